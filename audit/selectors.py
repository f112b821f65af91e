"""Reads of the audit log that other parts of jobdesk show."""

from audit.models import AuditEvent


def job_timeline(correlation_id: str, limit: int) -> list[AuditEvent]:
    """The events of one correlation ID, oldest first (the job page's timeline, via ``jobs.timeline``)."""
    return list(AuditEvent.objects.filter(correlation_id=correlation_id).select_related("actor")
                .order_by("created_at", "id")[:limit])
