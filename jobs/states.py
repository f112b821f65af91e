"""The job state machine. Nothing else in jobdesk writes ``JobRecord.status``.

    enqueue ──► queued ──► running ──► succeeded
                  ▲  │        │  └──► retrying ──► running …   (backoff in RQ's scheduled registry)
                  │  │        ├──► dead                        (attempts exhausted, non-retryable)
                  │  ▼        └──► canceled                    (stop requested)
    relay ─── pending          queued|pending|retrying ──► canceled
    dead|canceled|succeeded ──► queued                         (explicit staff retry only)

A job waiting for jobs it handed its work to (``jobs.errors.Waiting``) goes running → retrying too, its
attempt closed as succeeded; ``jobs.services.wake_job`` runs it at once when they have ended.

A record is written ``queued`` because it is handed to Redis as soon as its transaction commits; it
becomes ``pending`` only when that hand-over failed or was lost (Redis down, Redis lost its data, the
process died after commit), and the relay dispatches ``pending`` rows again.

Every change is a compare-and-set: ``UPDATE … WHERE id = %s AND status IN (expected)``. Two workers, or
a worker and the reconciler, racing for the same change: exactly one UPDATE matches, the other gets
``False`` and must back off. Each change writes ``status_note`` (why: reason, the staff member, attempt
details) in the same UPDATE, and sends ``job_state_changed`` inside its transaction.

Cost: on PostgreSQL the audit log follows the ledger by trigger (``audit`` migration 0003), so when no
receiver acts on a change (``jobs.signals.listen`` says which changes each one wants) the change is one
statement, which is its own transaction in autocommit: no BEGIN, no COMMIT, no audit INSERT of its own.
The runner's claim and finish are one statement each there too (``jobs.statements``). A receiver that
wants the change gets it inside an atomic block with the write.
"""

import functools
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from jobs import batches, statements, waiting
from jobs.models import TERMINAL_STATUSES, JobAttempt, JobRecord, Outcome, Status
from jobs.signals import StateChange, is_wanted, job_state_changed
from project import correlation
from project.text import storable

# to-state: the from-states it may be reached from
TRANSITIONS = {
    Status.QUEUED: {Status.PENDING, Status.SUCCEEDED, Status.DEAD, Status.CANCELED},
    Status.PENDING: {Status.QUEUED, Status.RETRYING},
    Status.RUNNING: {Status.PENDING, Status.QUEUED, Status.RETRYING},
    Status.SUCCEEDED: {Status.RUNNING},
    Status.RETRYING: {Status.RUNNING},
    Status.DEAD: {Status.RUNNING},
    Status.CANCELED: {Status.PENDING, Status.QUEUED, Status.RETRYING, Status.RUNNING},
}

# The timestamp each state sets when it is entered.
TIMESTAMPS = {
    Status.QUEUED: "queued_at",
    Status.RETRYING: "retrying_at",
    Status.SUCCEEDED: "succeeded_at",
    Status.DEAD: "dead_at",
    Status.CANCELED: "canceled_at",
}


class TransitionNotAllowed(ValueError):
    pass


def _check(expected, to):
    expected = set(expected)
    illegal = expected - TRANSITIONS[to]
    if illegal:
        raise TransitionNotAllowed(f"{', '.join(sorted(illegal))} -> {to} is not a job transition")
    return expected


def _change(record, old, to, *, actor_id=None, reason="", data=None):
    return StateChange(
        record_id=record.pk, job_type=record.job_type, old=old, new=to, correlation_id=record.correlation_id,
        guild_id=record.guild_id, actor_id=actor_id, reason=reason, data=data or {},
    )


def announce(changes):
    """Send ``job_state_changed`` for ``changes`` (also used by enqueue for new records)."""
    if changes:
        job_state_changed.send(sender=JobRecord, changes=changes)


def has_listeners(to, job_type):
    """Whether a receiver of ``job_state_changed`` acts on a change of ``job_type`` (None: any) to ``to``."""
    return is_wanted(to, job_type)


def change_scope(*changes):
    """Where the writes of ``changes`` (``(to, job_type)`` pairs) go: an atomic block when a receiver will
    write beside them, else none (one statement in autocommit is a transaction by itself; inside a
    caller's block it joins it)."""
    wanted = any(has_listeners(to, job_type) for to, job_type in changes)
    return transaction.atomic(savepoint=False) if wanted else nullcontext()


def status_note(correlation_id, *, reason="", actor_id=None, data=None):
    """The record's ``status_note`` for a change: reason and details, the staff member who made it,
    and the request behind it when that is not the job's own (a staff action on someone's job)."""
    note = {"reason": reason, **(data or {})}
    if actor_id is not None:
        note["actor_id"] = actor_id
    request_cid = correlation.get()
    if request_cid and request_cid != correlation_id:
        note["request_correlation_id"] = request_cid
    return note


def transition(record, to, *, expected, actor_id=None, reason="", data=None, attempt=None, **fields):
    """Move ``record`` to ``to`` if its status is still one of ``expected``; True if this call won.

    With ``attempt``, the record must also still be on that attempt: a worker that outlived its
    attempt (declared lost, retried elsewhere) cannot finish the next one. ``fields`` are written in the
    same UPDATE. On success the in-memory ``record`` is updated too.
    """
    expected = _check(expected, to)
    values = _change_values(record, to, timezone.now(), actor_id=actor_id, reason=reason, data=data, fields=fields)
    with change_scope((to, record.job_type)):
        rows = JobRecord.objects.filter(pk=record.pk, status__in=expected)
        if attempt is not None:
            rows = rows.filter(attempts=attempt)
        won = rows.update(**values) == 1
        if not won:
            return False
        _changed(record, to, values, actor_id=actor_id, reason=reason, data=data)
    return True


def _change_values(record, to, now, *, actor_id, reason, data, fields):
    """The columns one change writes: status, its timestamps, ``status_note`` and the caller's ``fields``."""
    values = {"status": to, "status_changed_at": now,
              "status_note": status_note(record.correlation_id, reason=reason, actor_id=actor_id, data=data), **fields}
    if to in TIMESTAMPS:
        values[TIMESTAMPS[to]] = now
    return values


def _changed(record, to, values, *, actor_id, reason, data):
    """After a won change: bring the in-memory ``record`` up to date and announce the change."""
    old = record.status
    for name, value in values.items():
        setattr(record, name, value)
    announce([_change(record, old, to, actor_id=actor_id, reason=reason, data=data)])
    if to in TERMINAL_STATUSES:  # wake its waiters once the change is durable (at once in autocommit)
        transaction.on_commit(functools.partial(waiting.announce_end, record.pk, to), robust=True)
        if record.batch_id is not None:  # a batch member: the last one to end enqueues the callback (jobs.batches)
            transaction.on_commit(functools.partial(batches.member_ended, record.batch_id), robust=True)


def start_attempt(record_id, *, worker, after=None):
    """Claim a record for a run: ``→ running``, count the attempt and open its ``JobAttempt``.

    Returns ``(record, attempt)``, or ``(None, None)`` when the record is not runnable any more (it was
    canceled, already ran, or another worker won it): the caller must then do nothing.

    One UPDATE … RETURNING claims and reads the record (raw SQL: the ORM has no UPDATE … RETURNING); on
    PostgreSQL the same statement opens the attempt. ``after``, a ``Finish`` of an earlier job (its end
    carried to this claim by ``jobs.finish_group``), is written first, by the same statement on
    PostgreSQL: one commit for both; ``after.written`` says whether it was.
    """
    now = timezone.now()
    expected = sorted(_check({Status.PENDING, Status.QUEUED, Status.RETRYING}, Status.RUNNING))
    note = status_note(None, data={"worker": worker})
    changes = [(Status.RUNNING, None)] + ([(after.to, after.record.job_type)] if after is not None else [])
    with change_scope(*changes):
        if connection.vendor == "postgresql":
            record, attempt, written = statements.claim(
                record_id, worker=worker, now=now, expected=expected, note=note,
                after=None if after is None else _finish_columns(after))
            if after is not None:
                after.written = written
                if written:
                    _finished(after)
                    _closed(after)
        else:
            if after is not None:
                write_finishes([after])
            record, attempt = _claim_portably(record_id, worker=worker, now=now, expected=expected, note=note)
        if record is not None:
            old = Status.QUEUED if record.attempts == 1 else Status.RETRYING
            announce([_change(record, old, Status.RUNNING, data={"attempt": record.attempts, "worker": worker})])
    return record, attempt


def _claim_portably(record_id, *, worker, now, expected, note):
    with transaction.atomic(savepoint=False):
        started = statements.db_value(JobRecord, "started_at", now)
        claimed = list(JobRecord.objects.raw(_claim_sql(len(expected)), [
            Status.RUNNING, started, started, worker, statements.db_value(JobRecord, "status_note", note),
            statements.db_value(JobRecord, "id", record_id), *expected,
        ]))
        if not claimed:
            return None, None
        record = claimed[0]
        attempt = JobAttempt.objects.create(
            record=record, number=record.attempts, worker=worker, started_at=now,
            correlation_id=record.correlation_id, queue=record.queue,
        )
    return record, attempt


@functools.cache
def _claim_sql(n_expected):
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in JobRecord._meta.concrete_fields)
    return (
        f"UPDATE {qn(JobRecord._meta.db_table)} SET {qn('status')} = %s, {qn('status_changed_at')} = %s, "
        f"{qn('attempts')} = {qn('attempts')} + 1, {qn('started_at')} = COALESCE({qn('started_at')}, %s), "
        f"{qn('worker')} = %s, {qn('status_note')} = %s WHERE {qn('id')} = %s "
        f"AND {qn('status')} IN ({', '.join(['%s'] * n_expected)}) AND NOT {qn('cancel_requested')} RETURNING {columns}"
    )


@dataclass
class Finish:
    """One attempt's end, made ready to write (``prepare_finish``): the record and attempt, where the
    record goes, and the columns each gets. Its times are those of the attempt's end, whenever it is
    written."""

    record: JobRecord
    attempt: JobAttempt
    to: str
    values: dict
    closed: dict
    actor_id: int | None
    reason: str
    data: dict
    written: bool | None = None  # once written (or found not running any more): whether it was


def prepare_finish(record, attempt, to, *, outcome, actor_id=None, reason="", error=None, retry_delay=None,
                   **fields):
    """The end of ``attempt`` with ``outcome``, moving ``record`` from running to ``to``, ready for
    ``write_finishes``; nothing is written. ``error`` is ``(type name, message, traceback)``."""
    _check({Status.RUNNING}, to)
    now = timezone.now()
    # A job's own text (its result, its error) may hold what no column can (a NUL, half a surrogate
    # pair); left as it is, the write of its end would fail and leave it running.
    error_type, message, tb = storable(error or ("", "", ""))
    reason, fields = storable(reason), storable(fields)
    if error:
        fields.update(last_error_type=error_type, last_error=message)
    data = {"attempt": attempt.number, "outcome": outcome}
    closed = {"ended_at": now, "outcome": outcome, "error_type": error_type, "error_message": message,
              "traceback": tb, "retry_delay": retry_delay}
    values = _change_values(record, to, now, actor_id=actor_id, reason=reason, data=data, fields=fields)
    return Finish(record, attempt, to, values, closed, actor_id, reason, data)


def finish_attempt(record, attempt, to, **how):
    """Close ``attempt`` and move ``record`` from running to ``to`` (``prepare_finish`` says how) in one
    transaction. Returns False, writing nothing, when the record is no longer running on that attempt
    (canceled meanwhile, or the reconciler already declared the attempt lost)."""
    return write_finishes([prepare_finish(record, attempt, to, **how)])[0]


def write_finishes(finishes):
    """Write ``finishes`` in one transaction (one statement each on PostgreSQL; a single one is its own
    transaction when nobody listens), and say for each whether it was written (the compare-and-set of
    ``finish_attempt``)."""
    changes = {(finish.to, finish.record.job_type) for finish in finishes}
    block = transaction.atomic(savepoint=False) if len(finishes) > 1 else nullcontext()
    won = []
    with block, change_scope(*changes):
        for finish in finishes:
            won.append(_write_finish(finish))
    for finish, written in zip(finishes, won):
        finish.written = written
        if written:
            _closed(finish)
    return won


def _closed(finish):
    finish.attempt.ended_at = finish.closed["ended_at"]
    finish.attempt.outcome, finish.attempt.error_type = finish.closed["outcome"], finish.closed["error_type"]


def _finish_columns(finish):
    """What ``statements.finish`` (and a claim carrying the finish) writes for ``finish``."""
    return {"record_pk": finish.record.pk, "attempt_pk": finish.attempt.pk, "number": finish.attempt.number,
            "record_values": finish.values, "attempt_values": finish.closed}


def _finished(finish):
    """After ``finish`` was written: the in-memory record up to date, the change announced."""
    _changed(finish.record, finish.to, finish.values, actor_id=finish.actor_id, reason=finish.reason,
             data=finish.data)


def _write_finish(finish):
    if connection.vendor == "postgresql":
        if not statements.finish(**_finish_columns(finish)):
            return False
        _finished(finish)
        return True
    with transaction.atomic():
        rows = JobRecord.objects.filter(pk=finish.record.pk, status=Status.RUNNING, attempts=finish.attempt.number)
        if rows.update(**finish.values) != 1:
            return False
        _finished(finish)
        JobAttempt.objects.filter(pk=finish.attempt.pk).update(**finish.closed)
    return True


def close_open_attempt(record, outcome, *, message=""):
    """Close the record's attempt that is still marked running (lost worker, staff cancel)."""
    return JobAttempt.objects.filter(record_id=record.pk, number=record.attempts, outcome=Outcome.RUNNING).update(
        ended_at=timezone.now(), outcome=outcome, error_message=message,
        error_type={Outcome.LOST: "LostWorker", Outcome.TIMEOUT: "JobTimeoutException"}.get(outcome, ""),
    )
