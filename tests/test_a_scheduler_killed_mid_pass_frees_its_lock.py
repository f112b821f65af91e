"""The relay's and the reconciler's locks are leases: a scheduler killed in the middle of a pass (SIGKILL,
its host gone) holds up the other scheduler's next pass for ``jobs.locks.LEASE`` seconds at most — it held
them for 60 s (relay) and 30 s (reconciler), so 3,000 pending jobs waited a minute after Redis came back —
while a pass that runs longer than the lease keeps its lock."""

import signal
import subprocess
import sys
import time

from django.conf import settings

from jobs import locks
from jobs.connection import redis_connection
from tests.conftest import BASE_DIR, service_env, wait_for

HOLD_AND_WAIT = """
import django, sys, time
django.setup()
from jobs.locks import held
with held("relay", lease=2) as mine:
    print("held" if mine else "refused", flush=True)
    time.sleep(600)
"""


def test_a_lock_whose_holder_is_killed_lapses_within_its_lease(clean_redis):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AND_WAIT], cwd=BASE_DIR, env=service_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        key = f"{settings.QUEUE_NAMESPACE}:lock:relay"
        time.sleep(3)  # past the 2 s lease: renewed while its holder lives
        assert redis_connection().exists(key)
        with locks.held("relay") as mine:
            assert not mine, "a second scheduler took a lock its holder still renews"
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: not redis_connection().exists(key), timeout=5, message="the lease to lapse")
        assert time.monotonic() - killed <= 2.5
        with locks.held("relay") as mine:
            assert mine, "the other scheduler takes the lock once the lease lapsed"
    finally:
        holder.kill()
        holder.wait(5)


def test_a_pass_longer_than_the_lease_keeps_its_lock_and_frees_it_at_the_end(clean_redis):
    key = f"{settings.QUEUE_NAMESPACE}:lock:reconcile"
    with locks.held("reconcile", lease=1) as mine:
        assert mine
        time.sleep(2.5)
        assert redis_connection().exists(key), "the lease lapsed under a pass still running"
        with locks.held("reconcile", lease=1) as second:
            assert not second
    assert not redis_connection().exists(key)
