"""``make run``'s stand-ins for the outside world: two of the bot's shards and a webhook receiver, on one
local HTTP port, so that a newcomer sees a branding fan-out and a webhook delivery happen.

- ``POST /shard/<n>/api/bot/branding/apply``: verifies the signature with the shard secret
  (``DEMO_SHARD_SECRET``) using ``notifications.signing.verify``, as the bot would; keeps the newest version
  per guild and answers 409 to an older one; prints what it applied.
- ``POST /webhook``: verifies the signature with the endpoint's secret (read from ``DEMO_WEBHOOK_SECRET_FILE``,
  written by ``manage.py jobs_demo``) and prints the event.

Run as ``python -m project.demo_peers <port>``; it imports nothing of Django.
"""

import json
import os
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
        self._answer(404, {"error": "unknown path"})

    def _shard(self, shard, body):
        try:
            verify(os.environ["DEMO_SHARD_SECRET"], self.headers, body)
        except SignatureError as exc:
            return self._answer(401, {"error": str(exc)})
        snapshot = json.loads(body)
        key, version = (shard, snapshot.get("guild_id")), snapshot.get("version", 0)
        with lock:
            if version < held.get(key, 0):
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
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
