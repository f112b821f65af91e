"""``make run``'s stand-ins for the outside world: two of the bot's shards and a webhook receiver, on one
local HTTP port, so that a newcomer sees a branding fan-out and a webhook delivery happen.

- ``POST /shard/<n>/api/bot/branding/apply``: verifies the signature with the shard secret
  (``DEMO_SHARD_SECRET``) using ``notifications.signing.verify``, as the bot would; keeps the newest version
  per guild and answers 409 ``{"held": <version>}`` to the same or an older one; prints what it applied.
- ``POST /webhook``: verifies the signature with the endpoint's secret (read from ``DEMO_WEBHOOK_SECRET_FILE``,
  written by ``manage.py jobs_demo``) and prints the event.
- ``POST /push/demo-browser``: a push service with one browser, the admin's (its keys in ``DEMO_PUSH_KEY_FILE``,
  written by ``manage.py jobs_demo``): verifies the VAPID token against ``VAPID_PUBLIC_KEY``, decrypts the
  push as the browser would, and prints its messages.

Run as ``python -m project.demo_peers <port>``; it imports nothing of Django.
"""

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from notifications.signing import SignatureError, verify

held = {}  # (shard, guild) -> version
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "shard" and self.path.endswith("/api/bot/branding/apply"):
            return self._shard(parts[1], body)
        if self.path == "/webhook":
            return self._webhook(body)
        if self.path == "/push/demo-browser":
            return self._push(body)
        self._answer(404, {"error": "unknown path"})

    def _shard(self, shard, body):
        try:
            verify(os.environ["DEMO_SHARD_SECRET"], self.headers, body)
        except SignatureError as exc:
            return self._answer(401, {"error": str(exc)})
        snapshot = json.loads(body)
        key, version = (shard, snapshot.get("guild_id")), snapshot.get("version", 0)
        with lock:
            if key in held and version <= held[key]:  # the same or an older version: 409 naming the one held
                return self._answer(409, {"held": held[key]})
            held[key] = version
        print(f"demo shard {shard}: applied branding version {version} for guild {key[1]} (signature verified)",
              flush=True)
        self._answer(200, {"applied": version})

    def _webhook(self, body):
        secret_file = Path(os.environ.get("DEMO_WEBHOOK_SECRET_FILE", ""))
        try:
            verify(secret_file.read_text().strip(), self.headers, body)
        except (OSError, SignatureError) as exc:
            return self._answer(401, {"error": str(exc)})
        event = json.loads(body)
        print(f"demo webhook receiver: {event.get('event')} for guild {event.get('guild_id')} (signature verified)",
              flush=True)
        self._answer(200, {"received": True})

    def _push(self, body):
        import base64

        import http_ece
        from cryptography.hazmat.primitives.asymmetric import ec
        from py_vapid import Vapid02

        def raw(value):
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))

        authorization = self.headers.get("Authorization", "")
        try:
            key = dict(p.split("=", 1) for p in authorization.partition(" ")[2].split(","))["k"]
            verified = key == os.environ.get("VAPID_PUBLIC_KEY") and Vapid02.verify(authorization)
        except Exception:
            verified = False
        if not verified:
            return self._answer(401, {"error": "VAPID token missing or not signed by VAPID_PUBLIC_KEY"})
        try:
            keys = json.loads(Path(os.environ.get("DEMO_PUSH_KEY_FILE", "")).read_text())
            browser = ec.derive_private_key(int.from_bytes(raw(keys["private"]), "big"), ec.SECP256R1())
            data = json.loads(http_ece.decrypt(body, private_key=browser, auth_secret=raw(keys["auth"]),
                                               version="aes128gcm"))
        except Exception as exc:
            return self._answer(400, {"error": f"cannot decrypt: {exc}"})
        titles = "; ".join(m.get("title", "") for m in data.get("messages", []))
        print(f"demo push service: {len(data.get('messages', []))} message(s) for the admin's demo browser: {titles} "
              "(VAPID verified, decrypted)", flush=True)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _answer(self, status, data):
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # one line per event, printed above; not one per request
        pass


def main():
    """Serves until Ctrl-C or SIGTERM (make run stopping), then exits 0 without a traceback."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
