"""Real HTTP peers standing in for the bot's shards (pytest-httpserver, threaded), and helpers for the
branding tests. A peer verifies every request's signature with notifications.signing.verify, keeps the
newest version per guild as a shard must (an older one answers 409), and follows a script that can
fail, stall or hold a request."""

import json
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from branding.models import BotShard, FanOut
from notifications.signing import SignatureError, verify
from tests.conftest import wait_for

APPLY_PATH = "/api/bot/branding/apply"
# Worker processes: loopback peers allowed, short timeouts and retries so that a test takes seconds.
WORKER_ENV = {"OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32", "BRANDING_SHARD_TIMEOUT": "1",
              "BRANDING_RETRY_DELAY": "1", "BRANDING_MAX_ATTEMPTS": "3"}


class ShardPeer:
    """One shard. ``script(snapshot, n)`` (n: the request's number, from 0) returns what to do:
    ``"ok"`` (apply if newer), an int status to answer, a werkzeug ``Response`` to send as it is, ``("sleep", s)`` then nothing applied, or an
    ``threading.Event`` to wait for (at most 20 s) before applying."""

    def __init__(self, shard_id, secret, script=None):
        self.shard_id, self.secret = shard_id, secret
        self.script = script or (lambda snapshot, n: "ok")
        self.received = []  # (version, signature verified, correlation id)
        self.held = {}  # guild id -> version applied
        self.history = []  # versions in the order they were applied
        self.lock = threading.Lock()
        self.server = HTTPServer(host="127.0.0.1", threaded=True)
        self.server.expect_request(APPLY_PATH, method="POST").respond_with_handler(self.handle)
        self.server.start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.port}/"

    def handle(self, request):
        body = request.get_data()
        try:
            verify(self.secret, request.headers, body)
            verified = True
        except SignatureError:
            verified = False
        snapshot = json.loads(body)
        with self.lock:
            n = len(self.received)
            self.received.append((snapshot["version"], verified, request.headers.get("X-Correlation-ID")))
        if not verified:
            return Response("bad signature", status=401)
        action = self.script(snapshot, n)
        if isinstance(action, int):
            return Response(f"scripted {action}", status=action)
        if isinstance(action, Response):  # an answer of the script's own making
            return action
        if isinstance(action, tuple) and action[0] == "sleep":
            time.sleep(action[1])
            return Response("too late", status=200)
        if isinstance(action, threading.Event):
            action.wait(20)
        with self.lock:
            guild, version = snapshot["guild_id"], snapshot["version"]
            held = self.held.get(guild, 0)
            if version < held:
                return Response(json.dumps({"held": held}), status=409, content_type="application/json")
            if version > held:
                self.held[guild] = version
                self.history.append(version)
        return Response(json.dumps({"applied": version}), status=200, content_type="application/json")

    def versions_received(self):
        with self.lock:
            return [v for v, _ok, _cid in self.received]

    def stop(self):
        if self.server.is_running():
            self.server.stop()


@pytest.fixture
def shard_peers():
    """``make(shard_id, script=None)`` starts a peer and registers it as an enabled BotShard."""
    peers = []

    def make(shard_id, script=None, secret=None):
        secret = secret or f"shard-secret-{shard_id}-0123456789"
        peer = ShardPeer(shard_id, secret, script)
        peers.append(peer)
        peer.shard = BotShard.objects.create(shard_id=shard_id, base_url=peer.base_url, signing_secret=secret)
        return peer

    yield make
    for peer in peers:
        peer.stop()


def wait_for_fan_out(fan_out_id, statuses=("applied", "failed"), timeout=60):
    def ended():
        fan_out = FanOut.objects.get(pk=fan_out_id)
        return fan_out if fan_out.status in statuses else None

    return wait_for(ended, timeout=timeout, interval=0.2, message=f"fan-out {fan_out_id} to reach {statuses}")
