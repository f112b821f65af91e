"""The reconciler: repair the ledger where Redis lost track of a job.

- A ``running`` row whose worker is gone (no live worker key, or the job's heartbeat in RQ's started
  registry has expired, or the job is no longer there): the attempt is recorded as ``lost`` and the
  job is queued again at once, or dead when it has no attempts left.
- A ``queued`` or ``retrying`` row whose RQ job no longer exists (Redis restarted without its data, a
  process died between commit and dispatch): the row goes back to ``pending`` and the relay
  dispatches it again.

Safe to run twice at once: one Redis lock, and every change is a compare-and-set that loses quietly to
a worker (or another reconciler) that changed the row first. Jobs must be idempotent anyway: a
"dead" worker's child can still be finishing the job when it is retried.
"""

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError
from rq.utils import parse_composite_key

from jobs import registry, retries, states
from jobs.connection import redis_connection
from jobs.dispatch import send
from jobs.locks import held
from jobs.models import JobRecord, Outcome, Status

log = logging.getLogger(__name__)

PAGE = 2000
# A waiting row must have been in its state this long before a missing RQ job counts as lost: its
# dispatch runs right after its transaction commits.
WAITING_GRACE = timedelta(seconds=30)
RUNNING_GRACE = timedelta(seconds=2)


def reconcile(*, waiting_grace=WAITING_GRACE, running_grace=RUNNING_GRACE, max_rows=100_000):
    """One reconciliation pass; returns ``{"lost": n, "requeued": m}`` (zeros when another holds the lock)."""
    found = {"lost": 0, "requeued": 0}
    try:
        with held("reconcile", timeout=120) as mine:
            if mine:
                found["lost"] = _reconcile_running(timezone.now() - running_grace)
                found["requeued"] = _reconcile_waiting(timezone.now() - waiting_grace, max_rows)
    except RedisError as exc:
        log.warning("reconcile: Redis unavailable: %s", exc)
    if any(found.values()):
        log.warning("reconcile: %(lost)d lost running job(s), %(requeued)d waiting job(s) back to pending", found)
    return found


def _live_executions(conn, queue_names):
    """job id -> latest heartbeat expiry (epoch seconds) in the started registries of ``queue_names``."""
    pipe = conn.pipeline(transaction=False)
    for name in queue_names:
        pipe.zrange(f"rq:wip:{name}", 0, -1, withscores=True)
    expiry = {}
    for entries in pipe.execute():
        for member, score in entries:
            job_id, _execution = parse_composite_key(member.decode() if isinstance(member, bytes) else member)
            expiry[job_id] = max(score, expiry.get(job_id, 0))
    return expiry


def _reconcile_running(cutoff):
    records = list(JobRecord.objects.filter(status=Status.RUNNING, status_changed_at__lte=cutoff))
    if not records:
        return 0
    conn = redis_connection()
    expiry = _live_executions(conn, {r.queue for r in records})
    workers = sorted({r.worker for r in records if r.worker})
    pipe = conn.pipeline(transaction=False)
    for name in workers:
        pipe.exists(f"rq:worker:{name}")
    alive = {name for name, exists in zip(workers, pipe.execute()) if exists}
    now = time.time()
    lost = 0
    for record in records:
        heartbeat = expiry.get(record.rq_id)
        if heartbeat is not None and heartbeat >= now and record.worker in alive:
            continue
        why = "worker gone" if record.worker not in alive else "heartbeat expired" if heartbeat else "not in RQ"
        lost += _declare_lost(conn, record, why)
    return lost


def _declare_lost(conn, record, why):
    """Close the lost attempt; retry at once (the crash was not the job's fault) or dead-letter it.

    No backoff on purpose: a scheduled retry would wait on RQ's scheduler lock, which the dead worker
    may still hold for up to a minute.
    """
    job_type = registry.get(record.job_type)
    step = retries.after_failure(record, job_type, attempt_number=record.attempts)
    message = f"attempt {record.attempts} lost: {why}"
    fields = {"last_error_type": "LostWorker", "last_error": message}
    if step.status == Status.RETRYING:
        fields["run_at"] = None
    reason = f"{message}; retried at once" if step.status == Status.RETRYING else f"{message}; {step.reason}"
    with transaction.atomic():
        if not states.transition(record, step.status, expected={Status.RUNNING}, attempt=record.attempts,
                                 reason=reason, data={"outcome": Outcome.LOST}, **fields):
            return 0
        states.close_open_attempt(record, Outcome.LOST, message=message)
        if step.status == Status.RETRYING:
            transaction.on_commit(lambda: _redispatch(conn, record))
    return 1


def _redispatch(conn, record):
    """Drop what RQ still holds of the lost run, then schedule the retry."""
    try:
        pipe = conn.pipeline(transaction=False)
        for member in conn.zrange(f"rq:wip:{record.queue}", 0, -1):
            member = member.decode() if isinstance(member, bytes) else member
            if parse_composite_key(member)[0] == record.rq_id:
                pipe.zrem(f"rq:wip:{record.queue}", member)
        pipe.delete(f"rq:job:{record.rq_id}")
        send([record], pipeline=pipe)
        pipe.execute()
    except RedisError as exc:  # the next pass finds it retrying without an RQ job: back to pending
        log.warning("reconcile: could not reschedule %s: %s", record.pk, exc)


def _reconcile_waiting(cutoff, max_rows):
    conn = redis_connection()
    requeued = 0
    seen = 0
    last = None
    while seen < max_rows:
        rows = JobRecord.objects.filter(
            status__in=[Status.QUEUED, Status.RETRYING], status_changed_at__lte=cutoff
        ).order_by("status_changed_at", "id")
        if last is not None:
            rows = rows.filter(status_changed_at__gte=last.status_changed_at).exclude(
                status_changed_at=last.status_changed_at, id__lte=last.id
            )
        page = list(rows.only("id", "status", "status_changed_at", "job_type", "correlation_id", "guild_id")[:PAGE])
        if not page:
            break
        pipe = conn.pipeline(transaction=False)
        for record in page:
            pipe.exists(f"rq:job:{record.rq_id}")
        for record, exists in zip(page, pipe.execute()):
            if not exists and states.transition(
                record, Status.PENDING, expected={record.status}, reason="RQ job missing: back to the relay"
            ):
                requeued += 1
        seen += len(page)
        last = page[-1]
        if len(page) < PAGE:
            break
    return requeued

