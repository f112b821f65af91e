"""What every job of bench/peers.py does, whichever system runs it: optionally sleep, then push
``"<n> <started> <ended>"`` (``time.time()`` floats) to one Redis list.

The list is how the bench sees the jobs: its length says how many have run (the bench polls it to know
when all N are done), the ``n`` values prove that each job ran exactly once, and the timestamps give the
"in-run" span (first job's start to last job's end) on the same host clock for every system.

This module imports nothing from Django: the Celery, Dramatiq and bare-RQ workers load it as it is, and
jobdesk's bench job type (bench/peer_jobdesk.py) calls it too.
"""

import os
import time

import redis

DONE_KEY = "peers:done"  # list of "n started ended"

_client = None


def client():
    """One connection pool per process, on the bench's Redis database (``PEERS_REDIS_URL``)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["PEERS_REDIS_URL"])
    return _client


def work(n, sleep_ms=0):
    """The job: sleep ``sleep_ms`` milliseconds (I/O-like work, 0 for a no-op), then record the run."""
    started = time.time()
    if sleep_ms:
        time.sleep(sleep_ms / 1000)
    client().rpush(DONE_KEY, f"{n} {started!r} {time.time()!r}")
