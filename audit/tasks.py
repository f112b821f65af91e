"""Audit job types."""

from pydantic import BaseModel, Field

from audit.services import audit_event_record
from jobs.registry import job_type


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
    event = audit_event_record(
        action=payload.action, resource_type=payload.resource_type, resource_id=payload.resource_id,
        actor=ctx.actor_id, guild=payload.guild_id or ctx.guild_id, correlation_id=ctx.correlation_id,
        data={**payload.data, "job": str(ctx.record_id)},
    )
    return {"event_id": event.pk}


class Retention(BaseModel):
    days: int = Field(default=90, ge=1, le=3650)


@job_type("audit.apply_retention", payload=Retention, queue="audit", max_attempts=3, timeout=3600)
def apply_retention(payload: Retention, ctx):
    """Delete audit events older than ``days``, in batches, through the log's one purge path, and say so
    in the audit log."""
    from datetime import timedelta

    from django.utils import timezone

    from audit.models import AuditEvent

    cutoff = timezone.now() - timedelta(days=payload.days)
    deleted = AuditEvent.objects.purge_before(cutoff, batch=5000)
    audit_event_record(action="audit.retention_applied", resource_type="audit", resource_id="events",
                       correlation_id=ctx.correlation_id, data={"days": payload.days, "deleted": deleted,
                                                                "before": cutoff.isoformat()})
    return {"deleted": deleted}


class Rollup(BaseModel):
    day: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="Default: yesterday (UTC)")


@job_type("audit.rollup", payload=Rollup, queue="audit", max_attempts=3, timeout=3600)
def rollup(payload: Rollup, ctx):
    """Count the jobs created on one day by type and status into ``DailyJobRollup`` (idempotent)."""
    from datetime import date, datetime, time, timedelta, timezone as dt_timezone

    from django.db import transaction
    from django.db.models import Count

    from audit.models import DailyJobRollup
    from jobs.models import JobRecord

    day = date.fromisoformat(payload.day) if payload.day else (datetime.now(dt_timezone.utc) - timedelta(days=1)).date()
    start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
    rows = (JobRecord.objects.filter(created_at__gte=start, created_at__lt=start + timedelta(days=1))
            .values("job_type", "status").annotate(count=Count("pk")))
    with transaction.atomic():
        DailyJobRollup.objects.filter(day=day).delete()
        DailyJobRollup.objects.bulk_create([DailyJobRollup(day=day, **row) for row in rows])
    return {"day": day.isoformat(), "rows": len(rows)}
