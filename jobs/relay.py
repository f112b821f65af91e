"""The relay: dispatch ``pending`` rows, the jobs whose hand-over to Redis failed or was lost.

Safe to run twice at once: a Redis lock lets one relay work at a time, the rows are locked while they
are dispatched (``SELECT … FOR UPDATE SKIP LOCKED`` where the database has it), and each row moves
``pending → queued`` by compare-and-set in the same transaction as its dispatch. If Redis is still down,
the transaction rolls back and the rows stay ``pending`` for the next run.
"""

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from jobs import states
from jobs.dispatch import send
from jobs.locks import held
from jobs.models import JobRecord, Status

log = logging.getLogger(__name__)

BATCH = 1000


def relay_pending(*, older_than=0.0, limit=10_000):
    """Dispatch up to ``limit`` pending rows last changed more than ``older_than`` seconds ago.

    Returns the number dispatched (0 when another relay holds the lock or Redis is down).
    """
    dispatched = 0
    try:
        with held("relay") as mine:
            if not mine:
                return 0
            while dispatched < limit:
                count = _relay_batch(timezone.now() - timedelta(seconds=older_than), min(BATCH, limit - dispatched))
                dispatched += count
                if count < BATCH:
                    break
    except RedisError as exc:
        log.warning("relay: Redis unavailable, %d dispatched before it failed: %s", dispatched, exc)
    return dispatched


def relay_records(ids):
    """Dispatch these pending records now (a staff "requeue now"); returns the number sent."""
    try:
        return _relay_batch(None, len(ids), ids=ids)
    except RedisError as exc:
        log.warning("relay: Redis unavailable: %s", exc)
        return 0


def _relay_batch(cutoff, size, ids=None):
    skip_locked = connection.features.has_select_for_update_skip_locked
    with transaction.atomic():
        rows = JobRecord.objects.filter(status=Status.PENDING).order_by("status_changed_at")
        rows = rows.filter(pk__in=ids) if ids is not None else rows.filter(status_changed_at__lte=cutoff)
        if skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        records = [
            record for record in rows[:size]
            if states.transition(record, Status.QUEUED, expected={Status.PENDING}, reason="relayed")
        ]
        if records:
            send(records)
    if records:
        log.info("relay: dispatched %d pending job(s)", len(records))
    return len(records)
