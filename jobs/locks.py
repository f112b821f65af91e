"""Redis locks for jobdesk's periodic work, namespaced under QUEUE_NAMESPACE."""

import contextlib

from django.conf import settings

from jobs.connection import redis_connection


@contextlib.contextmanager
def held(name, *, timeout=60):
    """Try to take the lock ``name`` without waiting; yield True if this process holds it."""
    lock = redis_connection().lock(f"{settings.QUEUE_NAMESPACE}:lock:{name}", timeout=timeout, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            with contextlib.suppress(Exception):
                lock.release()
