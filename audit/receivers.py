"""Every enqueue and every job state change becomes an audit event, in the same transaction.

On PostgreSQL the ledger's own triggers write the job events (migration 0003: one statement per state
change, and no ledger write can skip them); elsewhere (SQLite for ``make run``) ``record_job_state_changes``
does, from ``job_state_changed``. Staff actions are recorded here on every database.
"""

from audit.models import AuditEvent
from jobs.signals import job_state_changed, staff_action
from project import correlation
from project.db import insert_rows


def _action(change):
    return "job.enqueued" if change.old is None and change.reason == "enqueued" else f"job.{change.new}"


def connect(*, job_changes_in_python):
    if job_changes_in_python:
        job_state_changed.connect(record_job_state_changes, dispatch_uid="audit.job_state_changed")
    staff_action.connect(record_staff_action, dispatch_uid="audit.staff_action")


def record_job_state_changes(sender, changes, **kwargs):
    # A staff action on someone else's job: the event keeps the job's correlation ID (its timeline) and
    # names the staff member's request too, so the action can be traced from either side.
    request_cid = correlation.get()
    insert_rows(AuditEvent, [
        AuditEvent(
            action=_action(change), resource_type="job", resource_id=str(change.record_id), actor_id=change.actor_id,
            guild_id=change.guild_id, correlation_id=change.correlation_id,
            data={"job_type": change.job_type, "from": change.old, "to": change.new, "reason": change.reason,
                  **change.data,
                  **({"request_correlation_id": request_cid} if request_cid and request_cid != change.correlation_id
                     else {})},
        )
        for change in changes
    ])


def record_staff_action(sender, actor, action, resource_type, resource_id, data, **kwargs):
    AuditEvent.objects.create(
        action=action, resource_type=resource_type, resource_id=str(resource_id), actor_id=getattr(actor, "pk", actor),
        correlation_id=correlation.get() or "", data=data or {},
    )
