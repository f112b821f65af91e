"""Redis locks for jobdesk's periodic work (the relay, the reconciler), namespaced under QUEUE_NAMESPACE.

A lock is a lease: it lapses ``LEASE`` seconds after its holder stops renewing it, and a thread renews it
every third of that while the holder's block runs. So a pass may run as long as it needs, and a scheduler
killed mid-pass (SIGKILL, its host gone) holds up the next scheduler's pass for at most ``LEASE`` seconds,
not for a fixed minute. The passes stay correct without the lock (their writes compare and set, rows are
taken with SKIP LOCKED); it only keeps two schedulers from doing the same work twice.
"""

import contextlib
import logging
import threading

from django.conf import settings
from redis.exceptions import LockError, RedisError

from jobs.connection import redis_connection

log = logging.getLogger(__name__)

LEASE = 10.0


@contextlib.contextmanager
def held(name, *, lease=LEASE):
    """Try to take the lock ``name`` without waiting; yield True if this process holds it."""
    # thread_local=False: the renewing thread must see the token the holder's thread took
    lock = redis_connection().lock(f"{settings.QUEUE_NAMESPACE}:lock:{name}", timeout=lease, blocking=False,
                                   thread_local=False)
    if not lock.acquire():
        yield False
        return
    done = threading.Event()

    def renew():
        while not done.wait(lease / 3):
            try:
                lock.reacquire()
            except (LockError, RedisError) as exc:  # lapsed (the process stood still) or Redis away
                log.warning("lock %s: not renewed, another scheduler may take it: %s", name, exc)
                return

    renewing = threading.Thread(target=renew, name=f"lock-{name}", daemon=True)
    renewing.start()
    try:
        yield True
    finally:
        done.set()
        renewing.join(lease)
        with contextlib.suppress(Exception):
            lock.release()
