"""The reconciler: repair the ledger where Redis lost track of a job. It judges from the ledger and
reads RQ's lists itself: it never waits on RQ's own registry maintenance or its locks.

- A ``running`` row whose worker is gone (no live worker key, or the job's heartbeat in RQ's started
  registry has expired, or the job is no longer there): the attempt is recorded as ``lost`` and the
  job is queued again at once, or dead when it has no attempts left.
- A ``queued`` or ``retrying`` row (in that state for ``WAITING_GRACE``) that is neither waiting in its
  RQ queue nor scheduled: its RQ job is missing (Redis restarted without its data, a process died
  between commit and dispatch), or a worker took it and died before the runner claimed the record (it
  sits in RQ's intermediate list, or is marked started by a dead worker, or RQ filed it as failed
  although no attempt ran), or its scheduled time is long past (RQ's scheduler is held by a dead
  worker). Such a row is seen twice, ``CONFIRM`` seconds apart, in the same place (a live worker moves
  a job on within milliseconds); then every trace RQ holds of it is removed and it is sent again
  (``→ pending → queued``, through the relay) in the same pass.
- A batch whose members have all ended but that is not complete (a process died between a member's
  end and its completion check): completed, and its callback enqueued once (``jobs.batches``).

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

from jobs import batches, concurrency, registry, retries, rq_internals, states
from jobs.connection import redis_connection
from jobs.dispatch import send
from jobs.locks import held
from jobs.models import JobRecord, Outcome, Status
from jobs.relay import relay_records

log = logging.getLogger(__name__)

PAGE = 2000
# A waiting row must have been in its state this long before it is judged: its dispatch runs right
# after its transaction commits, and a retry is handed to RQ right after the attempt is recorded.
WAITING_GRACE = timedelta(seconds=5)
RUNNING_GRACE = timedelta(seconds=2)
# Seconds between the two looks at a waiting job that seems stranded.
CONFIRM = 1.0
# Seconds a scheduled job may be overdue before the reconciler queues it itself.
OVERDUE = 10


def reconcile(*, waiting_grace=WAITING_GRACE, running_grace=RUNNING_GRACE, max_rows=100_000):
    """One reconciliation pass; returns ``{"lost": n, "requeued": m}`` (zeros when another holds the lock)."""
    found = {"lost": 0, "requeued": 0}
    try:
        with held("reconcile") as mine:
            if mine:
                found["lost"] = _reconcile_running(timezone.now() - running_grace)
                found["requeued"] = _reconcile_waiting(timezone.now() - waiting_grace, max_rows)
                _complete_batches()
    except RedisError as exc:
        log.warning("reconcile: Redis unavailable: %s", exc)
    if any(found.values()):
        log.warning("reconcile: %(lost)d lost running job(s), %(requeued)d stranded waiting job(s) sent again", found)
    return found


def _complete_batches():
    """Batches whose members have all ended but that are not complete: a process died between a member's
    commit and its completion check (``jobs.batches``). Completes them and enqueues their callbacks."""
    completed = batches.complete_finished()
    if completed:
        log.warning("reconcile: %d batch(es) left open by a crash completed; callbacks enqueued", completed)
    return completed


def _reconcile_running(cutoff):
    records = list(JobRecord.objects.filter(status=Status.RUNNING, status_changed_at__lte=cutoff))
    if not records:
        return 0
    conn = redis_connection()
    seen = rq_internals.job_states(conn, [(r.rq_id, r.queue) for r in records])
    alive = rq_internals.alive_workers(conn, {r.worker for r in records if r.worker})
    now = time.time()
    lost = 0
    for record in records:
        heartbeat = seen[record.rq_id].heartbeat
        if heartbeat is not None and heartbeat >= now and record.worker in alive:
            continue
        why = "worker gone" if record.worker not in alive else "heartbeat expired" if heartbeat else "not in RQ"
        lost += _declare_lost(conn, record, why)
    return lost


def record_timed_out(record_id, seconds):
    """A worker killed the work process running ``record_id``, past its timeout by ``seconds``: the
    attempt is recorded as timed out, then retried at once or dead-lettered as declared. False when the
    record is no longer running (the job ended on its own meanwhile)."""
    record = JobRecord.objects.filter(pk=record_id, status=Status.RUNNING).first()
    if record is None:
        return False
    return bool(_declare_lost(redis_connection(), record, f"stopped by its worker {seconds:.0f}s past its timeout",
                              outcome=Outcome.TIMEOUT, error_type="JobTimeoutException", verb="timed out",
                              backoff=True))


def _declare_lost(conn, record, why, *, outcome=Outcome.LOST, error_type="LostWorker", verb="lost", backoff=False):
    """Close the lost attempt; retry or dead-letter it.

    A lost attempt (a crash, not the job's fault) is retried at once: a scheduled retry would wait on RQ's
    scheduler lock, which the dead worker may still hold for up to a minute. A timed-out one (``backoff``:
    the job's own doing; its worker lives on) waits its backoff, as a timeout the job noticed itself does.
    The concurrency slot the attempt held is given back once this commits (the killed runner never did),
    except by a job retried at once, which takes back its own slot.
    """
    job_type = registry.get(record.job_type)
    step = retries.after_failure(record, job_type, attempt_number=record.attempts)
    message = f"attempt {record.attempts} {verb}: {why}"
    fields = {"last_error_type": error_type, "last_error": message}
    if step.status == Status.RETRYING:
        fields["run_at"] = timezone.now() + timedelta(seconds=step.delay) if backoff else None
        reason = f"{message}; retry in {step.delay}s" if backoff else f"{message}; retried at once"
    else:
        reason = f"{message}; {step.reason}"
    with transaction.atomic():
        if not states.transition(record, step.status, expected={Status.RUNNING}, attempt=record.attempts,
                                 reason=reason, data={"outcome": outcome}, **fields):
            return 0
        states.close_open_attempt(record, outcome, message=message)
        if step.status == Status.RETRYING:
            transaction.on_commit(lambda: _redispatch(conn, record))
        if step.status != Status.RETRYING or backoff:
            transaction.on_commit(lambda: concurrency.release_for(record))
    return 1


def _redispatch(conn, record):
    """Drop what RQ still holds of the lost run, then schedule the retry."""
    try:
        # Not one pipeline: RQ adds a scheduled job to its registry at once, not in the pipeline given, so
        # the clean-up queued before it would remove the retry it schedules.
        rq_internals.forget(conn, [(record.rq_id, record.queue)])
        send([record])
    except RedisError as exc:  # the next pass finds it retrying without an RQ job: sent again
        log.warning("reconcile: could not reschedule %s: %s", record.pk, exc)


def _reconcile_waiting(cutoff, max_rows):
    conn = redis_connection()
    suspects, members = {}, {}
    for page in _waiting_pages(cutoff, max_rows):
        queues = {record.queue for record in page} - set(members)
        members.update(rq_internals.queue_members(conn, queues))  # once per pass: see _why_stranded
        suspects.update(_stranded(conn, page, members))
    if not suspects:
        return 0
    time.sleep(CONFIRM)
    again_seen = [record for record, _why in suspects.values()]
    confirmed = _stranded(conn, again_seen, rq_internals.queue_members(conn, {r.queue for r in again_seen}))
    again = []
    for pk, (record, why) in confirmed.items():
        if suspects[pk][1] == why and states.transition(
            record, Status.PENDING, expected={record.status}, attempt=record.attempts,
            reason=f"stranded in RQ ({why}): sent again",
        ):
            again.append(record)
    if not again:
        return 0
    rq_internals.forget(conn, [(record.rq_id, record.queue) for record in again])
    relay_records([record.pk for record in again])  # a Redis error leaves them pending for the relay
    return len(again)


def _waiting_pages(cutoff, max_rows):
    """Pages of the rows waiting since before ``cutoff``, oldest first, by keyset."""
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
        page = list(rows.only("id", "status", "status_changed_at", "job_type", "correlation_id", "guild_id",
                              "queue", "attempts", "run_at")[:PAGE])
        if not page:
            return
        yield page
        seen += len(page)
        last = page[-1]
        if len(page) < PAGE:
            return


def _stranded(conn, records, members):
    """``{record id: (record, why)}`` for the waiting ``records`` that RQ holds nowhere it would run them from."""
    seen = rq_internals.job_states(conn, [(record.rq_id, record.queue) for record in records], members=members)
    now = time.time()
    stranded = {}
    for record in records:
        why = _why_stranded(seen[record.rq_id], now)
        if why:
            stranded[record.pk] = (record, why)
    return stranded


def _why_stranded(rq, now):
    """Why a waiting job will not run as RQ holds it, or None. Reads need not be atomic with each other:
    a job a live worker moves on (popped, then started) between two reads looks different on the
    second look, and only a verdict seen twice is acted on. The queue's members are read once per pass,
    before the job states, so a job that is popped after that read is seen started, not missing."""
    if rq.status is None:
        return "RQ job missing"
    if rq.status == "queued":
        if rq.taken:
            return "taken by a worker that never started it"
        return "popped by a worker that never started it" if rq.in_queue is False else None
    if rq.status == "scheduled":
        if rq.scheduled_at is None:
            return "scheduled but not in the scheduled registry"
        return "overdue in the scheduled registry" if rq.scheduled_at < now - OVERDUE else None
    if rq.status == "started":
        alive = rq.heartbeat is not None and rq.heartbeat >= now and rq.worker_alive
        return None if alive else "started by a worker that is gone"
    return f"{rq.status} in RQ without an attempt"
