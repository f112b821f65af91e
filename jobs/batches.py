"""Batches: jobs enqueued together, and a callback job that runs once, when every one of them has ended.

    batch = enqueue_batch([("exports.generate", {"export_id": 1}), ...],
                          on_complete=("exports.notify", {"guild_id": 7}), actor=user, guild=guild)

Why: a fan-out (one job per shard, per export part) needs a step that runs after all of it, told what
succeeded and what died, without a job that polls.

What is promised:
- ``enqueue_batch`` validates every member and the callback before writing anything (a ``JobError``
  naming the field: ``jobs[3].payload.export_id``, ``on_complete.payload.guild_id``); then it writes the
  ``JobBatch`` row and the members (one multi-row INSERT) in the caller's transaction, and the members
  are sent to RQ when it commits, as by ``enqueue_many``.
- The callback is enqueued exactly once, when every member has ended (succeeded, dead or canceled). After
  a member's terminal change commits (``jobs.states``), ``complete`` runs one guarded statement:
  ``UPDATE … SET completed_at, callback_id WHERE id = … AND completed_at IS NULL AND NOT EXISTS (a member
  that has not ended)``, and only when it updated the row enqueues the callback in the same transaction.
  Two members ending at once each check after their own commit: the row lock and PostgreSQL's re-check
  of the condition on the locked row let one win. A process killed between a member's commit and its
  check leaves the batch open: the reconciler calls ``complete_finished`` on every pass.
- The callback learns the outcome from the ledger: ``ctx.batch`` (``BatchOutcome``: id, total and the
  ids of the members that succeeded, died or were canceled), read when first used. A member a staff
  member retries after the batch completed runs again, but the callback does not.
- The completing UPDATE also counts how the members ended (``succeeded_count``, ``dead_count``,
  ``canceled_count``): the batch's outcome, which the admin shows once members are gone. Retention
  (``jobs.retention``) keeps every member of a batch that has not completed, and removes a completed
  batch in the pass that prunes the last of its members and its callback.

Members of a ``unique`` type, and a unique callback, are refused: a member that is an existing record
of another batch has no single batch to report to.
"""

import logging
import uuid
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from jobs import context, registry
from jobs.errors import JobError
from jobs.models import TERMINAL_STATUSES, JobBatch, JobRecord, Status

log = logging.getLogger(__name__)

MAX_MEMBERS = 10_000


@dataclass
class BatchOutcome:
    """What a batch's callback is told, read from the ledger."""

    id: int
    total: int
    succeeded: list = field(default_factory=list)
    dead: list = field(default_factory=list)
    canceled: list = field(default_factory=list)


def _job_spec(item, where):
    """``(job_type name, payload)`` from ``("type", payload)`` or ``{"job_type": ..., "payload": ...}``."""
    if isinstance(item, dict):
        if "job_type" not in item:
            raise JobError(f"{where}.job_type: required", field=f"{where}.job_type")
        extra = set(item) - {"job_type", "payload"}
        if extra:
            raise JobError(f"{where}: unknown key {sorted(extra)[0]!r}", field=f"{where}.{sorted(extra)[0]}")
        return item["job_type"], item.get("payload", {})
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    raise JobError(f"{where}: give (job_type, payload) or {{'job_type': ..., 'payload': ...}}", field=where)


def _checked(item, where):
    """The job type and the clean payload of one member or of the callback, else ``JobError`` naming it."""
    from jobs.enqueue import validate_payload

    name, payload = _job_spec(item, where)
    try:
        job_type = registry.get(name)
    except JobError as exc:
        raise JobError(f"{where}.job_type: {exc.message}", field=f"{where}.job_type", code=exc.code) from None
    if job_type.unique is not None:
        raise JobError(f"{where}.job_type: {name} is unique; unique types cannot be part of a batch",
                       field=f"{where}.job_type")
    return job_type, validate_payload(job_type, payload, prefix=f"{where}.payload")


def enqueue_batch(jobs, *, on_complete, actor=None, guild=None, correlation_id=None,
                  priority=None) -> JobBatch:
    """Enqueue ``jobs`` (each ``(job_type, payload)`` or ``{"job_type": ..., "payload": ...}``) as one
    batch whose ``on_complete`` job (``(job_type, payload)``) runs once, when all of them have ended.

    Returns the ``JobBatch``; its members are ``batch.members``. Nothing is written when any member or
    the callback is refused (``JobError`` naming the field).
    """
    from jobs import enqueue as enqueuing
    from project.db import insert_rows

    if isinstance(jobs, (str, bytes, dict)) or not hasattr(jobs, "__iter__"):
        raise JobError("jobs: give a list of (job_type, payload)", field="jobs")
    jobs = list(jobs)
    if not jobs:
        raise JobError("jobs: a batch needs at least one job", field="jobs")
    if len(jobs) > MAX_MEMBERS:
        raise JobError(f"jobs: at most {MAX_MEMBERS} jobs per batch", field="jobs", code="batch_too_large")
    members = [_checked(item, f"jobs[{i}]") for i, item in enumerate(jobs)]
    callback_type, callback_payload = _checked(on_complete, "on_complete")
    _first, priority, parent_ctx, cid = enqueuing._prepare(members[0][0].name, priority, correlation_id)
    now = timezone.now()
    records = [
        enqueuing._new_record(job_type, clean, now=now, run_at=None, priority=priority, actor=actor, guild=guild,
                              correlation_id=cid, parent_ctx=parent_ctx, overrides={})
        for job_type, clean in members
    ]
    with transaction.atomic(savepoint=False):
        batch = JobBatch.objects.create(
            total=len(records), callback_type=callback_type.name, callback_payload=callback_payload,
            created_at=now, actor_id=records[0].actor_id, guild_id=records[0].guild_id, correlation_id=cid,
        )
        for record in records:
            record.batch_id = batch.pk
        enqueuing._write(records, lambda: insert_rows(JobRecord, records))
    return batch


# The ended counts the completing UPDATE writes: column and the members' status it counts.
ENDED_COUNTS = (("succeeded_count", Status.SUCCEEDED), ("dead_count", Status.DEAD), ("canceled_count", Status.CANCELED))


def _complete_sql():
    """The guarded UPDATE; its parameters: completed_at, callback_id, then the batch id and a status for
    each of ``ENDED_COUNTS``, the batch id twice, and ``TERMINAL_STATUSES``. The counts are read in the
    statement that checks that no member is open, so they add up to the members as that check saw them."""
    qn = connection.ops.quote_name
    terminal = ", ".join(["%s"] * len(TERMINAL_STATUSES))
    members = f"FROM {qn(JobRecord._meta.db_table)} WHERE {qn('batch_id')} = %s AND {qn('status')}"
    counts = "".join(f", {qn(column)} = (SELECT COUNT(*) {members} = %s)" for column, _ in ENDED_COUNTS)
    return (
        f"UPDATE {qn(JobBatch._meta.db_table)} SET {qn('completed_at')} = %s, {qn('callback_id')} = %s{counts} "
        f"WHERE {qn('id')} = %s AND {qn('completed_at')} IS NULL "
        f"AND NOT EXISTS (SELECT 1 {members} NOT IN ({terminal}))"
    )


def complete(batch_id):
    """If every member of the batch has ended and it is not complete yet: mark it complete and enqueue
    its callback, in one transaction; returns the callback's record, else None (not finished, or
    another process completed it). Safe to call any number of times, from anywhere, at once."""
    from jobs.enqueue import enqueue
    from jobs.statements import db_value

    callback_id = uuid.uuid4()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_complete_sql(), [
                db_value(JobBatch, "completed_at", timezone.now()), db_value(JobBatch, "callback", callback_id),
                *(value for _, status in ENDED_COUNTS for value in (batch_id, status)),
                batch_id, batch_id, *TERMINAL_STATUSES,
            ])
            if cursor.rowcount != 1:
                return None
        batch = JobBatch.objects.get(pk=batch_id)
        token = context.bind(None)  # the member whose end completed the batch is not the callback's parent
        try:
            return enqueue(batch.callback_type, batch.callback_payload, actor=batch.actor_id, guild=batch.guild_id,
                           correlation_id=batch.correlation_id, job_id=callback_id)
        finally:
            context.unbind(token)


def member_ended(batch_id):
    """Called by ``jobs.states`` once a member's terminal change has committed. Never raises: a batch
    left open is completed by the reconciler."""
    try:
        if complete(batch_id) is not None:
            log.info("batch %s: every member has ended; callback enqueued", batch_id)
    except Exception:
        log.exception("batch %s: completion check failed; the reconciler will complete it", batch_id)


def complete_finished(limit=1000):
    """The reconciler's step: complete the open batches whose members have all ended (a process died
    between a member's commit and its check). Returns how many it completed."""
    unfinished = JobRecord.objects.filter(batch_id=OuterRef("pk")).exclude(status__in=TERMINAL_STATUSES)
    ids = list(JobBatch.objects.filter(completed_at__isnull=True).exclude(Exists(unfinished))
               .order_by("created_at").values_list("pk", flat=True)[:limit])
    completed = 0
    for batch_id in ids:
        try:
            completed += complete(batch_id) is not None
        except Exception:  # e.g. its callback type is gone: logged, and the other batches still complete
            log.exception("batch %s: could not be completed", batch_id)
    return completed


# --- reads ------------------------------------------------------------------------------------------------

def outcome(batch_id) -> BatchOutcome:
    """The batch's members by how they ended, from the ledger (members still running are in no list)."""
    batch = JobBatch.objects.only("id", "total").get(pk=batch_id)
    result = BatchOutcome(id=batch.pk, total=batch.total)
    lists = {Status.SUCCEEDED: result.succeeded, Status.DEAD: result.dead, Status.CANCELED: result.canceled}
    for pk, status in JobRecord.objects.filter(batch_id=batch_id).order_by("created_at", "id").values_list("id", "status"):
        if status in lists:
            lists[status].append(pk)
    return result


def outcome_for_callback(record_id) -> BatchOutcome | None:
    """``ctx.batch``: the outcome of the batch whose callback ``record_id`` is, else None."""
    batch_id = JobBatch.objects.filter(callback_id=record_id).values_list("pk", flat=True).first()
    return None if batch_id is None else outcome(batch_id)


def status_counts(batch_id) -> dict:
    """``{status: members}`` for the admin's progress (one GROUP BY over the batch's index)."""
    rows = JobRecord.objects.filter(batch_id=batch_id).values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}
