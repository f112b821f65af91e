"""``enqueue`` and ``enqueue_many``: validate, write the ledger row in the caller's transaction, hand
it to RQ when that transaction commits, and return the record at once.

Cost: one INSERT inside the caller's transaction (on PostgreSQL the audit event follows by trigger in
the same statement; called in autocommit, that INSERT is the whole transaction) and one Redis pipeline
after commit; a batch is one COPY (or multi-row INSERT) and one pipeline, whatever its size.

Per-call options (``max_attempts``, ``backoff``, ``timeout``, ``priority`` as a level or a BullMQ-style
number) override the type's declaration for the jobs of that call (``jobs.options``). A job type declared
``unique`` returns the record that holds its key instead of writing a second one (``jobs.unique``); every
returned record says which happened: ``record.created`` is True for a new record, False for an existing
one. A unique type's batch is written one INSERT per job.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from jobs import context, options, registry, states, unique
from jobs.connection import queue_name
from jobs.dispatch import dispatch
from jobs.errors import JobError
from jobs.models import JobRecord, Status
from project.db import insert_one, insert_rows
from project import correlation
from project.text import unstorable_message, unstorable_text

MAX_BATCH = 10_000


def _field_errors(exc: ValidationError, prefix: str):
    errors = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        errors.append({"field": f"{prefix}.{path}" if path else prefix, "message": error["msg"]})
    return errors


def validate_payload(job_type, payload, prefix="payload"):
    """The payload as the job type's schema makes it (JSON-ready), or ``JobError`` naming the field."""
    if not isinstance(payload, dict):
        raise JobError("payload must be a JSON object", field=prefix, code="invalid_payload")
    bad = unstorable_text(payload, prefix)
    if bad is not None:
        raise JobError(unstorable_message(bad), field=bad, code="invalid_payload")
    try:
        return job_type.payload.model_validate(payload).model_dump(mode="json")
    except ValidationError as exc:
        errors = _field_errors(exc, prefix)
        first = errors[0]
        raise JobError(f"{first['field']}: {first['message']}", field=first["field"], code="invalid_payload",
                       errors=errors) from None


def refuse_unknown_fields(job_type, payload, prefix="payload"):
    """For payloads people type (API, schedules, commands): a key the job type's schema does not know is
    refused, naming it, instead of being dropped (``{"stepz": 2}`` would run with the default ``steps``)."""
    model = job_type.payload
    if not isinstance(payload, dict) or model.model_config.get("extra") == "allow":
        return
    known = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    unknown = sorted(str(key) for key in payload if key not in known)
    if unknown:
        takes = ", ".join(sorted(model.model_fields)) or "no fields"
        raise JobError(f"{prefix}.{unknown[0]}: unknown field (the job type takes {takes})",
                       field=f"{prefix}.{unknown[0]}", code="invalid_payload")


# The longest ``delay`` accepted: the API's ``EnqueueIn.delay`` bound (30 days), so that code and the doors
# people come through agree. Later work is a schedule's or an explicit ``run_at``'s.
MAX_DELAY = timedelta(days=30)


def _run_at(delay, run_at, now):
    """When a job given ``delay`` (seconds or a timedelta) or ``run_at`` may run; None: at once.

    A delay must be a finite number of seconds (or a timedelta) from 0 to ``MAX_DELAY``: ``inf``, ``nan``,
    a bool or 1e12 s is a ``JobError`` naming ``delay``, never an OverflowError from the date arithmetic."""
    if delay is not None and run_at is not None:
        raise JobError("give delay or run_at, not both", field="run_at", code="invalid_schedule")
    if delay is not None:
        limit = int(MAX_DELAY.total_seconds())
        refused = JobError(f"delay must be a number of seconds from 0 to {limit} (30 days)",
                           field="delay", code="invalid_schedule")
        if isinstance(delay, bool) or not isinstance(delay, (int, float, timedelta)):
            raise refused
        if not isinstance(delay, timedelta):
            if not 0 <= delay <= limit:  # False for nan too; an int is compared exactly, however large
                raise refused
            delay = timedelta(seconds=delay)
        if not timedelta(0) <= delay <= MAX_DELAY:
            raise refused
        return now + delay if delay else None
    if run_at is not None:
        if not isinstance(run_at, datetime) or timezone.is_naive(run_at):
            raise JobError("run_at must be an aware datetime", field="run_at", code="invalid_schedule")
        return run_at
    return None


def _new_record(job_type, payload, *, now, run_at, priority, actor, guild, correlation_id, parent_ctx, overrides):
    actor_id = getattr(actor, "pk", actor)
    guild_id = getattr(guild, "pk", guild)
    if parent_ctx is not None:
        actor_id = actor_id if actor_id is not None else parent_ctx.actor_id
        guild_id = guild_id if guild_id is not None else parent_ctx.guild_id
    parent_id = parent_ctx.record_id if parent_ctx else None
    record = JobRecord(
        job_type=job_type.name, queue=queue_name(job_type.queue, priority), priority=priority,
        payload=payload, status=Status.QUEUED, max_attempts=overrides.get("max_attempts") or job_type.attempts_allowed,
        run_at=run_at, correlation_id=correlation_id, actor_id=actor_id, guild_id=guild_id,
        parent_id=parent_id, created_at=now, queued_at=now, status_changed_at=now,
        status_note={"reason": "enqueued", **({"parent": str(parent_id)} if parent_id else {})},
        options=overrides,
    )
    record.created = True
    if job_type.unique is not None:
        unique.stamp(record, job_type, now)
    return record


def _prepare(job_type_name, priority, correlation_id):
    job_type = registry.get(job_type_name)
    priority = job_type.priority if priority is None else options.priority_level(priority)
    parent_ctx = context.current()
    if correlation_id is not None and not correlation.is_valid(correlation_id):
        raise JobError("correlation_id must be 8-64 letters, digits or ._:-", field="correlation_id")
    cid = correlation_id or correlation.get() or (parent_ctx.correlation_id if parent_ctx else None) or correlation.new_id()
    return job_type, priority, parent_ctx, cid


def _announce_enqueued(records):
    states.announce([
        states.StateChange(
            record_id=r.pk, job_type=r.job_type, old=None, new=r.status, correlation_id=r.correlation_id,
            guild_id=r.guild_id, actor_id=r.actor_id, reason="enqueued",
            data={"parent": str(r.parent_id)} if r.parent_id else {},
        )
        for r in records
    ])


def _write(records, insert):
    """Insert ``records`` (by calling ``insert``), announce them, and dispatch them once the caller's
    transaction commits (at once in autocommit, where the INSERT alone is the transaction when nothing
    listens)."""
    changes = {(record.status, record.job_type) for record in records}
    with states.change_scope(*changes):
        insert()
        if any(states.has_listeners(*change) for change in changes):
            _announce_enqueued(records)
    transaction.on_commit(lambda: dispatch(records))


def _write_unique(records):
    """Insert each of a unique type's ``records`` unless another record holds its key; the result has,
    in order, the new record or that holder (``created`` False). Only new records are dispatched."""
    result = []
    changes = {(record.status, record.job_type) for record in records}
    with states.change_scope(*changes):
        for record in records:
            holder = unique.insert(record)
            if holder is not None:
                holder.created = False
            result.append(holder or record)
        created = [record for record in result if record.created]
        if created and any(states.has_listeners(*change) for change in changes):
            _announce_enqueued(created)
    if created:
        transaction.on_commit(lambda: dispatch(created))
    return result


def enqueue(job_type, payload, *, actor=None, guild=None, delay=None, run_at=None, priority=None,
            correlation_id=None, job_id=None, max_attempts=None, backoff=None, timeout=None) -> JobRecord:
    """Enqueue one job of ``job_type`` and return its record at once.

    ``max_attempts``, ``backoff`` and ``timeout`` override the type's declaration for this job;
    ``priority`` is ``"high"``, ``"default"``, ``"low"`` or a BullMQ-style number (1-3 high, 4-7
    default, 8 and above low; 0 default); without it, the type's declared priority (default). For a ``unique`` type, the record holding the key is returned
    when there is one (``record.created is False``) and nothing is written.

    ``delay`` is seconds (or a timedelta) from 0 to ``MAX_DELAY``, 30 days, as the API takes it; ``run_at``
    an aware datetime.

    ``job_id`` (a UUID) names the record when the caller must point at it before it exists, e.g. from a
    row it inserts first in the same transaction (foreign keys are checked at commit).

    Raises ``JobError`` (naming the field) for an unknown type or a payload its schema refuses; nothing is
    written then. The RQ job is created only when the caller's transaction commits: work that is rolled
    back never runs. If Redis is down at that moment the record stays ``pending`` and the relay
    dispatches it when Redis is back.
    """
    job_type, priority, parent_ctx, cid = _prepare(job_type, priority, correlation_id)
    overrides = options.clean(max_attempts=max_attempts, backoff=backoff, timeout=timeout)
    clean = validate_payload(job_type, payload)
    now = timezone.now()
    record = _new_record(job_type, clean, now=now, run_at=_run_at(delay, run_at, now), priority=priority,
                         actor=actor, guild=guild, correlation_id=cid, parent_ctx=parent_ctx, overrides=overrides)
    if job_id is not None:
        record.id = job_id
    if record.unique_key is not None:
        return _write_unique([record])[0]
    _write([record], lambda: insert_one(record))
    return record


def enqueue_many(job_type, payloads, *, actor=None, guild=None, delay=None, run_at=None,
                 priority=None, correlation_id=None, max_attempts=None, backoff=None,
                 timeout=None) -> list[JobRecord]:
    """Enqueue a batch of the same type: one multi-row INSERT and, after commit, one Redis pipeline.

    Every payload is validated before anything is written; an error names the index
    (``payloads[3].guild_id``) and nothing of the batch is written. The options are ``enqueue``'s, for
    every job of the batch. For a ``unique`` type each job is written as by ``enqueue`` (one INSERT
    each): the list holds, in order, a new record or the one holding that key (``created`` says which).
    """
    job_type, priority, parent_ctx, cid = _prepare(job_type, priority, correlation_id)
    overrides = options.clean(max_attempts=max_attempts, backoff=backoff, timeout=timeout)
    payloads = list(payloads)
    if len(payloads) > MAX_BATCH:
        raise JobError(f"at most {MAX_BATCH} jobs per batch", field="payloads", code="batch_too_large")
    cleans = [validate_payload(job_type, payload, prefix=f"payloads[{i}]") for i, payload in enumerate(payloads)]
    now = timezone.now()
    when = _run_at(delay, run_at, now)
    records = [
        _new_record(job_type, clean, now=now, run_at=when, priority=priority, actor=actor, guild=guild,
                    correlation_id=cid, parent_ctx=parent_ctx, overrides=overrides)
        for clean in cleans
    ]
    if not records:
        return []
    if job_type.unique is not None:
        with transaction.atomic(savepoint=False):
            return _write_unique(records)
    _write(records, lambda: insert_rows(JobRecord, records))
    return records


def enqueue_batch(jobs, *, on_complete, actor=None, guild=None, correlation_id=None, priority=None):
    """Enqueue ``jobs`` (``[(job_type, payload), ...]``) as one batch whose ``on_complete`` job runs once,
    when all of them have ended; returns the ``JobBatch``. See ``jobs.batches``."""
    from jobs.batches import enqueue_batch as _enqueue_batch

    return _enqueue_batch(jobs, on_complete=on_complete, actor=actor, guild=guild, correlation_id=correlation_id,
                          priority=priority)
