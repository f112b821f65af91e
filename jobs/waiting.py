"""Waiting for a job to end: ``wait_for_end(record_id, timeout)`` (``JobRecord.wait``, ``GET /api/jobs/<id>?wait=``).

Why: a caller that needs a result ("wait up to 10 s for the export, else show a spinner") should learn
that the job ended as soon as it ends, without polling the ledger in a loop.

How: ``jobs.states`` is the one place that moves a record to a terminal state (succeeded, dead,
canceled); once that change is durable (``transaction.on_commit``) it calls ``announce_end``: one
``PUBLISH <QUEUE_NAMESPACE>:done:<record id> <status>``, which never raises (Redis down: it is logged and
the waiters return at their timeout with the ledger's status). A waiter

1. subscribes to that channel and waits for Redis to confirm the subscription,
2. reads the record's status from the ledger once: already ended, it returns at once,
3. waits for the message or its timeout, blocking on the subscription's socket (no loop over the
   ledger, no thread: correct in a sync gunicorn worker, where it holds the worker for that long),
4. reads the record from the ledger once more and returns it, whatever its status.

Step 2 comes after step 1 so that a job ending between the two is never missed: either the read sees
the terminal status, or the change committed after the subscription was in place and its message
arrives. When Redis cannot be reached by the waiter, it falls back to reading the ledger's status once a
second until the timeout (degraded, never a tight loop).

Promised: the returned record is the ledger's, read after the wait; the wait is bounded (0 to
``MAX_TIMEOUT`` seconds, else ``JobError`` naming ``timeout``); a record that does not exist raises
``JobRecord.DoesNotExist`` at once. Do not wait inside the transaction that enqueued the job: it is
sent to its worker only when that transaction commits.
"""

import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings

from jobs.connection import redis_connection
from jobs.errors import JobError
from jobs.models import TERMINAL_STATUSES, JobRecord

log = logging.getLogger(__name__)

# The longest a caller may wait, in seconds (the HTTP long poll allows at most 30).
MAX_TIMEOUT = 3600
# Redis unreachable for the waiter: how often it reads the ledger's status instead.
FALLBACK_INTERVAL = 1.0
# How long a waiter gives Redis to confirm its subscription before it falls back.
SUBSCRIBE_TIMEOUT = 2.0


def channel(record_id) -> str:
    return f"{settings.QUEUE_NAMESPACE}:done:{record_id}"


@contextmanager
def wait_slot(caller: str, limit: int):
    """Counts ``caller``'s waits under way (a Redis counter shared by every server process); yields
    whether this one may wait: False when ``limit`` are under way already. Each wait holds a server
    worker, so one caller must not hold them all. Redis away: yields True (the wait falls back anyway)."""
    from redis.exceptions import RedisError

    key = f"{settings.QUEUE_NAMESPACE}:waits:{caller}"
    conn = redis_connection()
    try:
        pipe = conn.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 2 * 60)  # a process killed mid-wait leaves its count for two minutes at most
        under_way = pipe.execute()[0]
    except RedisError:
        yield True
        return
    try:
        yield under_way <= limit
    finally:
        try:
            conn.decr(key)
        except RedisError:
            pass


_local = threading.local()


@contextmanager
def held_announcements():
    """Within it, this thread's ends are kept, not published: the caller publishes them in a pipeline it
    sends anyway (``publish_in``), after the change is durable. The default worker's work process does so
    for the ends its next claim writes (``jobs.finish_group``): a round trip per job fewer."""
    held = _local.held = []
    try:
        yield held
    finally:
        _local.held = None


def publish_in(pipeline, held):
    for record_id, status in held:
        pipeline.publish(channel(record_id), status)


def announce_end(record_id, status):
    """Tell waiters that ``record_id`` ended with ``status``: one PUBLISH (or kept for the caller's
    pipeline, inside ``held_announcements``). Never raises."""
    held = getattr(_local, "held", None)
    if held is not None:
        held.append((record_id, str(status)))
        return
    try:
        redis_connection().publish(channel(record_id), str(status))
    except Exception as exc:  # Redis down or slow: waiters return at their timeout with the ledger's status
        log.warning("could not announce the end of job %s (%s): %s", record_id, status, exc)


def check_timeout(timeout, *, field="timeout", maximum=MAX_TIMEOUT):
    """``timeout`` as a float of seconds in [0, maximum], else a ``JobError`` naming ``field``."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout <= maximum:
        raise JobError(f"{field}: a number of seconds from 0 to {maximum}, got {timeout!r}", field=field)
    return float(timeout)


def wait_for_end(record_id, timeout, *, queryset=None) -> JobRecord:
    """Block until the record has ended (succeeded, dead, canceled) or ``timeout`` seconds have passed,
    then return it as the ledger has it (read from ``queryset``, default all records)."""
    timeout = check_timeout(timeout)
    deadline = time.monotonic() + timeout
    queryset = JobRecord.objects.all() if queryset is None else queryset
    if timeout > 0:
        _wait(record_id, deadline)
    return queryset.get(pk=record_id)


def _status(record_id):
    status = JobRecord.objects.filter(pk=record_id).values_list("status", flat=True).first()
    if status is None:
        raise JobRecord.DoesNotExist(f"no job {record_id}")
    return status


def _wait(record_id, deadline):
    pubsub = None
    try:
        try:
            pubsub = redis_connection().pubsub()
            pubsub.subscribe(channel(record_id))
            subscribed = _confirmed(pubsub, min(deadline, time.monotonic() + SUBSCRIBE_TIMEOUT))
        except Exception as exc:
            log.warning("waiting for job %s without Redis (%s): reading the ledger every %ss", record_id, exc,
                        FALLBACK_INTERVAL)
            subscribed = False
        if _status(record_id) in TERMINAL_STATUSES:
            return
        if subscribed:
            try:
                _message(pubsub, deadline)
                return
            except Exception as exc:
                log.warning("lost Redis while waiting for job %s (%s): reading the ledger every %ss", record_id,
                            exc, FALLBACK_INTERVAL)
        _poll_ledger(record_id, deadline)
    finally:
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                pass


def _confirmed(pubsub, until) -> bool:
    """Read until Redis confirms the subscription (only then can no PUBLISH slip past it)."""
    while (left := until - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message and message["type"] == "subscribe":
            return True
    return False


def _message(pubsub, deadline):
    """Block on the subscription until the end is announced or the deadline passes."""
    while (left := deadline - time.monotonic()) > 0:
        message = pubsub.get_message(timeout=left)
        if message and message["type"] == "message":
            return


def _poll_ledger(record_id, deadline):
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(FALLBACK_INTERVAL, left))
        if time.monotonic() < deadline and _status(record_id) in TERMINAL_STATUSES:
            return
