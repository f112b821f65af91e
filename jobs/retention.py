"""Retention: finished job records leave the ledger after their time, with their attempts and RQ keys.

The rules (settings, read on every pass):
- a succeeded record is kept ``JOBS_KEEP_SUCCEEDED_DAYS`` after it succeeded;
- a dead record is kept ``JOBS_KEEP_DEAD_DAYS`` after it died, and the newest ``JOBS_KEEP_FAILED`` dead
  records of each job type are kept whatever their age (the failures someone may still investigate);
- a canceled record is treated like a dead one: ``JOBS_KEEP_DEAD_DAYS`` after it was canceled, and the
  newest ``JOBS_KEEP_FAILED`` canceled records of each type are kept (counted apart from the dead ones,
  so a burst of cancels never pushes the last failures out);
- pending, queued, running and retrying records are never removed, whatever their age;
- a record that holds a period-unique key (``unique_until`` still ahead, ``jobs.unique``) is kept until
  that time has passed, whatever its status: removing it would free the key early (a later pass removes
  it, and only then counts it);
- a member of a batch that has not completed is kept: its callback reads the members' outcome from the
  ledger (``jobs.batches``).

A batch (``JobBatch``) goes with its members: a completed batch is removed in the pass that prunes the
last of its members and its callback (its row keeps the counts of how its members ended, for the admin,
until then).

What goes with a record: its attempts (``JobAttempt``, deleted in the same transaction), references to
it from other rows are cleared as their ``on_delete`` says (children's ``parent``, a schedule's
``last_job``, an export's ``job``), and RQ's own keys for it (after commit: see ``_forget``).
Audit events stay: the audit log is append-only and has its own retention; one ``jobs.pruned`` staff
action (actor: none, the system) records what a pass removed.

How, without long locks: rows are chosen through partial indexes (``succeeded_at`` for succeeded, and
``(job_type, dead_at)`` / ``(job_type, canceled_at)`` on dead / canceled rows, migration 0008),
walked in keyset order, ``batch`` rows per short transaction that locks only the rows it deletes
(``SKIP LOCKED``: a row a staff member is retrying right now is left for the next pass). The two "kept"
rules are filters on the rows the index walk reaches (a unique key's period, a look-up of the batch by
its primary key), not another order: rows they keep are stepped over once per pass. Enqueues insert
new rows and never wait on these. Two passes at once (a slow pass overlapping the next hour's) delete
disjoint rows. The batches a pass may have emptied are looked at once, after its last record batch has
committed, by their primary keys.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import models, router, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from redis.exceptions import RedisError

from jobs import rq_internals
from jobs.connection import redis_connection
from jobs.models import JobBatch, JobRecord, Status
from jobs.signals import staff_action

log = logging.getLogger(__name__)

# Rows per transaction: big enough that a million rows take a few hundred commits, small enough that
# each transaction is a few tens of milliseconds.
BATCH = 2000

# Each terminal status and the timestamp its age is counted from.
FINISHED_AT = {Status.SUCCEEDED: "succeeded_at", Status.DEAD: "dead_at", Status.CANCELED: "canceled_at"}


def rules(now=None) -> dict:
    """The cut-off times and the per-type keep count in force now (from settings)."""
    now = now or timezone.now()
    dead_cutoff = now - timedelta(days=settings.JOBS_KEEP_DEAD_DAYS)
    return {
        Status.SUCCEEDED: (now - timedelta(days=settings.JOBS_KEEP_SUCCEEDED_DAYS), 0),
        Status.DEAD: (dead_cutoff, settings.JOBS_KEEP_FAILED),
        Status.CANCELED: (dead_cutoff, settings.JOBS_KEEP_FAILED),
    }


def prune(now=None, batch=BATCH) -> dict:
    """Remove the finished records the rules no longer keep; return what was removed.

    ``{"removed": n, "by_status": {status: n}, "by_type": {job_type: {status: n}}, "job_batches": n,
    "batches": n, "seconds": s, "rules": {...}}`` (``job_batches``: ``JobBatch`` rows removed;
    ``batches``: transactions). Safe to run at any time and twice at once.
    """
    started = time.monotonic()
    now = now or timezone.now()
    report = {"removed": 0, "by_status": {}, "by_type": {}, "job_batches": 0, "batches": 0}
    emptied = set()  # ids of the JobBatch rows whose members or callback this pass removed
    for status, (cutoff, keep_last) in rules(now).items():
        if keep_last:
            # The newest ``keep_last`` of each type stay: prune each type below its own threshold.
            for job_type in _job_types(status):
                keep_from = _nth_newest(status, job_type, keep_last)
                if keep_from is not None:
                    _prune_range(status, min(cutoff, keep_from), batch, report, now, emptied, job_type=job_type)
        else:
            _prune_range(status, cutoff, batch, report, now, emptied)
    _prune_batches(emptied, batch, report)
    report["seconds"] = round(time.monotonic() - started, 3)
    report["rules"] = {"keep_succeeded_days": settings.JOBS_KEEP_SUCCEEDED_DAYS,
                       "keep_dead_days": settings.JOBS_KEEP_DEAD_DAYS, "keep_failed": settings.JOBS_KEEP_FAILED}
    if report["removed"]:
        staff_action.send(sender=JobRecord, actor=None, action="jobs.pruned", resource_type="job", resource_id="",
                          data={k: report[k] for k in ("removed", "by_status", "by_type", "job_batches", "rules")})
    log.info("retention removed %s job record(s) and %s job batch(es) in %s transaction(s): %s", report["removed"],
             report["job_batches"], report["batches"], report["by_status"])
    return report


def _job_types(status):
    """The job types with records in ``status``: one index seek per type (a loose index scan), never a
    scan of every such row."""
    types, last = [], ""
    while True:
        found = (JobRecord.objects.filter(status=status, job_type__gt=last).order_by("job_type")
                 .values_list("job_type", flat=True).first())
        if found is None:
            return types
        types.append(found)
        last = found


def _nth_newest(status, job_type, n):
    """When the ``n``-th newest record of ``job_type`` in ``status`` finished (records finished then or
    later are kept: at least ``n``, a few more on a tie), or None when there are no more than ``n``."""
    column = FINISHED_AT[status]
    found = list(JobRecord.objects.filter(status=status, job_type=job_type, **{f"{column}__isnull": False})
                 .order_by(f"-{column}").values_list(column, flat=True)[n - 1:n])
    return found[0] if found else None


def _prune_range(status, cutoff, batch, report, now, emptied, *, job_type=None):
    """Delete records in ``status`` (of ``job_type``, when given) finished before ``cutoff`` that the
    rules do not keep at ``now``, oldest first, ``batch`` per transaction, walking the index in keyset
    order so that every batch starts where the last one ended (not over the index entries of rows
    already deleted). Adds to ``emptied`` the batches whose members or callback it deleted."""
    db = router.db_for_write(JobRecord)
    after = None
    while True:
        with transaction.atomic(using=db):
            rows = list(batch_query(status, cutoff, batch, job_type=job_type, after=after, now=now))
            if not rows:
                return
            ids = [row[0] for row in rows]
            emptied.update(row[4] for row in rows if row[4] is not None)
            emptied.update(JobBatch.objects.using(db).filter(callback_id__in=ids).values_list("pk", flat=True))
            _delete(db, ids)
        _forget([(str(row[0]), row[1]) for row in rows])
        report["batches"] += 1
        report["removed"] += len(rows)
        report["by_status"][status.value] = report["by_status"].get(status.value, 0) + len(rows)
        for _, _, row_type, _, _ in rows:
            per_type = report["by_type"].setdefault(row_type, {})
            per_type[status.value] = per_type.get(status.value, 0) + 1
        if len(rows) < batch:
            return
        after = rows[-1][3]


def batch_query(status, cutoff, batch, *, job_type=None, after=None, now=None):
    """One batch's rows ``(id, queue, job_type, finished_at, batch_id)``, locked, oldest first: in
    ``status``, finished before ``cutoff``, of ``job_type`` (when given), not before ``after`` (the
    previous batch's last timestamp), and neither holding a unique key past ``now`` nor a member of a
    batch that has not completed. Plain range bounds on the indexed timestamp: the planner estimates
    them well and walks the index (EXPLAIN at a million rows: bench/retention_scale.py); the two kept
    rules are filters on the rows it reaches (a column of the row; the batch by its primary key)."""
    column = FINISHED_AT[status]
    open_batch = JobBatch.objects.filter(pk=OuterRef("batch_id"), completed_at__isnull=True)
    query = (JobRecord.objects.filter(status=status, **{f"{column}__lt": cutoff})
             .filter(Q(unique_until__isnull=True) | Q(unique_until__lte=now or timezone.now()))
             .exclude(Exists(open_batch)))
    if job_type is not None:
        query = query.filter(job_type=job_type)
    if after is not None:
        query = query.filter(**{f"{column}__gte": after})
    # Ordered by the timestamp alone, the index order: ``(column, id)`` would sort every due row of
    # ``job_succeeded_idx`` (which has no id) on each batch. Rows sharing ``after`` are looked at again,
    # but every row a batch returns is deleted, so each batch moves on.
    return (query.select_for_update(skip_locked=True, of=("self",)).order_by(column)
            .values_list("id", "queue", "job_type", column, "batch_id")[:batch])


def _delete(db, ids):
    """Delete the locked records ``ids`` and what depends on them, as each relation's ``on_delete``
    says (the database's foreign keys are checked at commit, so the order within the transaction is
    free): attempts (CASCADE) go, references (SET_NULL) are cleared, anything else goes through
    Django's collector."""
    for relation in JobRecord._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        field, on_delete = relation.field, relation.on_delete
        related = relation.related_model._base_manager.using(db).filter(**{f"{field.name}__in": ids})
        if on_delete is models.CASCADE and not _referenced(relation.related_model):
            related._raw_delete(db)
        elif on_delete is models.SET_NULL:
            related.update(**{field.name: None})
        elif on_delete is models.DO_NOTHING:
            continue
        else:
            JobRecord._base_manager.using(db).filter(pk__in=ids).delete()
            return
    JobRecord._base_manager.using(db).filter(pk__in=ids)._raw_delete(db)


def _prune_batches(ids, batch, report):
    """Delete the batches among ``ids`` that have completed and whose members and callback are all gone
    (a completed batch always had a callback: ``callback_id`` is NULL once it was removed), ``batch``
    ids per statement, each one DELETE that checks and deletes at once. Called after the pass's record
    deletions have committed: of two passes that each removed some of a batch's members, the one that
    looks last sees them all gone."""
    db = router.db_for_write(JobBatch)
    ids = sorted(ids)
    members = JobRecord.objects.filter(batch_id=OuterRef("pk"))
    for start in range(0, len(ids), batch):
        done = (JobBatch.objects.using(db)
                .filter(pk__in=ids[start:start + batch], completed_at__isnull=False, callback__isnull=True)
                .exclude(Exists(members)))
        report["job_batches"] += done._raw_delete(db)


def _referenced(model):
    return any(f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
               for f in model._meta.get_fields(include_hidden=True))


def _forget(jobs):
    """Remove RQ's keys for pruned jobs. A job RQ still has a hash for (finished recently, or kept by a
    long QUEUE_RESULT_TTL / QUEUE_FAILURE_TTL) goes through ``rq_internals.forget``, which also sweeps
    its queue lists and started registry; for the others (the usual case: their hash expired days ago)
    only what can outlive the hash is removed (a failed or scheduled registry entry, executions, the
    results stream: ``forget`` without ``lists``), in O(log n) per job. ``forget``'s LREMs cost O(queue
    length) each: a few thousand of them per batch against a backlog of 100,000 waiting jobs would keep
    Redis, which every enqueue needs, busy for seconds (bench/retention_scale.py)."""
    try:
        conn = redis_connection()
        with conn.pipeline(transaction=False) as pipe:
            for job_id, _ in jobs:
                pipe.exists(rq_internals.job_key(job_id))
            held = pipe.execute()
        rq_internals.forget(conn, [job for job, exists in zip(jobs, held) if exists])
        rq_internals.forget(conn, [job for job, exists in zip(jobs, held) if not exists], lists=False)
    except RedisError as exc:
        log.info("pruned jobs left in Redis (they expire there): %s", exc)
