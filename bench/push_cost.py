"""What one Web Push costs jobdesk: encrypting for the browser (aes128gcm) plus signing the VAPID token,
and the whole ``notifications.push.send`` against a local push service (an HTTP server on 127.0.0.1
answering 201), in one thread. Run by hand (a few seconds), it is not a test::

    .venv/bin/python bench/push_cost.py [--pushes N]

It touches no database and no Redis (the settings only need a URL): keys are made for the run.
"""

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class PushService(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=1000)
    args = parser.parse_args()
    from notifications.vapid_keys import generate_key_pair

    public, private = generate_key_pair()
    os.environ.update(DEBUG="true", SECRET_KEY="bench-only", REDIS_URL="redis://127.0.0.1:6379/15",
                      VAPID_PUBLIC_KEY=public, VAPID_PRIVATE_KEY=private, OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32",
                      DJANGO_SETTINGS_MODULE="project.settings")
    import django

    django.setup()
    import json

    from notifications import push
    from notifications.models import PushSubscription
    from tests.push_fixtures import Browser

    server = ThreadingHTTPServer(("127.0.0.1", 0), PushService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = Browser()
    subscription = PushSubscription(endpoint=f"http://127.0.0.1:{server.server_port}/push/1", p256dh=browser.p256dh,
                                    auth=browser.auth)
    data = json.dumps({"messages": [{"title": f"Export {n} is ready", "body": "400 rows", "url": "https://x.example/",
                                     "at": "2026-01-01T00:00:00+00:00"} for n in range(3)]}).encode()
    n = args.pushes

    started = time.process_time()
    for _ in range(n):
        push.encrypt(endpoint=subscription.endpoint, p256dh=subscription.p256dh, auth=subscription.auth, data=data)
    encrypt_ms = (time.process_time() - started) * 1000 / n
    started = time.process_time()
    for _ in range(n):
        push.vapid_headers(subscription.endpoint)
    sign_ms = (time.process_time() - started) * 1000 / n
    assert browser.decrypt(push.encrypt(endpoint=subscription.endpoint, p256dh=subscription.p256dh,
                                        auth=subscription.auth, data=data))["messages"][0]["title"] == "Export 0 is ready"

    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        assert push.send(subscription, data).status == 201
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server.shutdown()
    print(f"pushes: {n}, plaintext {len(data)} bytes")
    print(f"encrypt (aes128gcm, fresh ECDH key): {encrypt_ms:.3f} ms CPU per push")
    print(f"VAPID token (ES256):                 {sign_ms:.3f} ms CPU per push")
    print(f"push.send to a local push service:   {n / wall:,.0f} pushes/s in one thread "
          f"({wall * 1000 / n:.2f} ms wall, {cpu * 1000 / n:.2f} ms CPU per push, both sides in this process)")


if __name__ == "__main__":
    main()
