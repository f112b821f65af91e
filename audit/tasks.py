"""Audit job types. All are internal (no ``enqueue_permission``): product code and schedules enqueue
them, people never do (staff ask for a report through the admin, which calls the service)."""

import json

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from audit import services
from jobs.errors import PermanentError
from jobs.registry import job_type

MAX_DATA_BYTES = 8192
MAX_BULK_EVENTS = 1000


class RecordEvent(BaseModel):
    action: str = Field(min_length=1, max_length=100)
    resource_type: str = Field(min_length=1, max_length=100)
    resource_id: str = Field(min_length=1, max_length=100)
    guild_id: int | None = None
    data: dict = Field(default_factory=dict)


@job_type("audit.record_event", payload=RecordEvent, queue="audit", max_attempts=5)
def record_event(payload: RecordEvent, ctx):
    """Write an audit event off the request path (webhook deliveries, bot callbacks, bulk imports).

    Idempotent: a second run of the same job writes nothing new.
    """
    from audit.models import AuditEvent

    existing = AuditEvent.objects.filter(
        correlation_id=ctx.correlation_id, action=payload.action, data__job=str(ctx.record_id)
    ).first()
    if existing:
        return {"event_id": existing.pk, "duplicate": True}
    event = services.audit_event_record(
        action=payload.action, resource_type=payload.resource_type, resource_id=payload.resource_id,
        actor=ctx.actor_id, guild=payload.guild_id or ctx.guild_id, correlation_id=ctx.correlation_id,
        data={**payload.data, "job": str(ctx.record_id)},
    )
    return {"event_id": event.pk}


class LogEvent(BaseModel):
    """One event for the log. ``key`` (optional) names it for good: an event whose key is already in the
    log is not written again, whichever job brings it; without one, the job's id and the event's place
    in the job make the key, so that a job that runs twice writes its events once."""

    action: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
                        description="Dotted, lower case: export.downloaded")
    resource_type: str = Field(min_length=1, max_length=100)
    resource_id: str = Field(min_length=1, max_length=100)
    guild_id: int | None = Field(default=None, ge=1, description="Default: the job's guild")
    data: dict = Field(default_factory=dict)
    key: str | None = Field(default=None, min_length=1, max_length=150)

    @field_validator("data")
    @classmethod
    def _small(cls, value):
        if len(json.dumps(value, default=str)) > MAX_DATA_BYTES:
            raise ValueError(f"at most {MAX_DATA_BYTES} bytes of JSON")
        return value


class LogBulk(BaseModel):
    """Up to 1,000 events. Two events with the same ``key`` are refused at enqueue, naming the second
    (``payload.events.1.key``): at run time they could never both be written, and no retry would help."""

    events: list[LogEvent] = Field(min_length=1, max_length=MAX_BULK_EVENTS)

    @model_validator(mode="after")
    def _keys_unique(self):
        first = {}
        for index, event in enumerate(self.events):
            if event.key is None:
                continue
            if event.key in first:
                raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                    type=PydanticCustomError("duplicate_key", 'the key "{key}" is already used by event {first}',
                                             {"key": event.key, "first": first[event.key]}),
                    loc=("events", index, "key"), input=event.key)])
            first[event.key] = index
        return self


def _rows(events: list[LogEvent], ctx) -> list[dict]:
    from project.models import Guild

    guild_ids = {event.guild_id for event in events if event.guild_id}
    missing = guild_ids - set(Guild.objects.filter(pk__in=guild_ids).values_list("pk", flat=True))
    if missing:
        raise PermanentError(f"no guild {min(missing)}: the events name a guild that does not exist")
    return [{
        "action": event.action, "resource_type": event.resource_type, "resource_id": event.resource_id,
        "guild_id": event.guild_id or ctx.guild_id, "data": event.data,
        "event_key": f"key:{event.key}" if event.key else f"job:{ctx.record_id}:{index}",
    } for index, event in enumerate(events)]


@job_type("audit.log_event", payload=LogEvent, queue="audit", max_attempts=5)
def log_event(payload: LogEvent, ctx):
    """Write one event with the job's actor and correlation ID (and its guild unless the event names
    one). Idempotent through the event's key."""
    written = services.audit_events_insert(events=_rows([payload], ctx), actor_id=ctx.actor_id,
                                           correlation_id=ctx.correlation_id)
    return {"written": written}


@job_type("audit.log_bulk", payload=LogBulk, queue="audit", max_attempts=5)
def log_bulk(payload: LogBulk, ctx):
    """Write up to 1,000 events with one INSERT. Idempotent through each event's key: a rerun, or a
    second job with the same keys, writes only the events not in the log yet."""
    written = services.audit_events_insert(events=_rows(payload.events, ctx), actor_id=ctx.actor_id,
                                           correlation_id=ctx.correlation_id)
    return {"events": len(payload.events), "written": written}


class Retention(BaseModel):
    days: int | None = Field(default=None, ge=1, le=3650, description="Default: AUDIT_RETENTION_DAYS")


@job_type("audit.apply_retention", payload=Retention, queue="audit", max_attempts=3, timeout=3600)
def apply_retention(payload: Retention, ctx):
    """Delete audit events older than ``days`` (default ``AUDIT_RETENTION_DAYS``), in batches of
    ``AUDIT_RETENTION_BATCH``, through the log's one purge path, and say so in the audit log."""
    result = services.audit_retention_apply(days=payload.days, correlation_id=ctx.correlation_id)
    return {"deleted": result["deleted"]}


class Rollup(BaseModel):
    day: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                            description="The last day recomputed. Default: yesterday (UTC)")
    days: int | None = Field(default=None, ge=1, le=366, description="Default: AUDIT_ROLLUP_DAYS (day alone: 1)")


@job_type("audit.rollup", payload=Rollup, queue="audit", max_attempts=3, timeout=3600)
def rollup(payload: Rollup, ctx):
    """The nightly rollup (02:00 UTC): recompute the last days' counts of audit events by guild and
    action, and of jobs by type and status. Idempotent (upserts; a rerun gives the same rows)."""
    from datetime import date

    try:
        day = date.fromisoformat(payload.day) if payload.day else None
    except ValueError as exc:
        raise PermanentError(f"day: {exc}") from exc
    days = payload.days or (1 if day else None)
    results = services.audit_rollup_recent(day=day, days=days)
    if len(results) == 1:  # the shape this job returned before it recomputed several days
        return {"day": results[0]["day"], "rows": results[0]["job_rows"], "audit_rows": results[0]["audit_rows"]}
    return {"days": results}


class Report(BaseModel):
    report_id: int = Field(ge=1)


@job_type("audit.report", payload=Report, queue="audit", max_attempts=3, timeout=3600)
def report(payload: Report, ctx):
    """Write an audit report's CSV (the rollup over its period) to the default storage."""
    from audit.models import AuditReport

    audit_report = AuditReport.objects.filter(pk=payload.report_id).first()
    if audit_report is None:
        raise PermanentError(f"audit report {payload.report_id} does not exist")
    ctx.progress(10, "counting")
    return services.audit_report_generate(report=audit_report, attempt=ctx.attempt)
