"""Writing audit events. Callers pass what happened; the correlation ID defaults to the bound one."""

from audit.models import AuditEvent
from project import correlation


def audit_event_record(*, action, resource_type, resource_id, actor=None, guild=None, correlation_id=None, data=None):
    return AuditEvent.objects.create(
        action=action, resource_type=resource_type, resource_id=str(resource_id),
        actor_id=getattr(actor, "pk", actor), guild_id=getattr(guild, "pk", guild),
        correlation_id=correlation_id or correlation.get() or "", data=data or {},
    )
