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
