"""The engine's own job types."""

from typing import Literal

from pydantic import BaseModel, Field

from jobs.errors import PermanentError
from jobs.registry import job_type

BULK_CHUNK = 500

# The permission each bulk action needs, checked again when the job runs: a role can be taken away
# between the form and the run, and a job record is no proof that its actor was allowed.
ACTION_PERMISSIONS = {
    "retry": "jobs.retry_jobrecord",
    "requeue": "jobs.retry_jobrecord",
    "cancel": "jobs.cancel_jobrecord",
    "delete": "jobs.delete_jobrecord",
}


class BulkAction(BaseModel):
    action: Literal["retry", "cancel", "requeue", "delete"]
    filters: dict[str, str] = Field(default_factory=dict)


@job_type("jobs.bulk_action", payload=BulkAction, queue="default", max_attempts=3, timeout=3600,
          acts_for_actor=True)
def bulk_action(payload: BulkAction, ctx):
    """Apply a staff action to every job matching a changelist's filters, in chunks, with progress.

    Idempotent: a second run finds the jobs already acted on and skips them. Acts for the staff member
    who asked (``ctx.actor_id``; after a retry, the one who retried it), whose name is on every job's
    audit events, and only while that staff member holds the action's permission: otherwise the job is
    dead at once and touches nothing.
    """
    from jobs import selectors, services

    _check_actor(ctx.actor_id, payload.action)

    matching = selectors.jobs_matching(payload.filters).exclude(pk=ctx.record_id)
    total = matching.count()
    acted, skipped, done, last_created, last_id = 0, {}, 0, None, None
    while True:
        chunk = matching.order_by("-created_at", "-id")
        if last_id is not None:
            chunk = chunk.exclude(created_at__gt=last_created).exclude(created_at=last_created, id__gte=last_id)
        records = list(chunk[:BULK_CHUNK])
        if not records:
            break
        if payload.action == "delete":
            acted += services.delete_jobs(chunk.filter(pk__in=[r.pk for r in records]), actor=ctx.actor_id)
        else:
            service = {"retry": services.retry_job, "cancel": services.cancel_job,
                       "requeue": services.requeue_job}[payload.action]
            for record in records:
                if service(record, actor=ctx.actor_id):
                    acted += 1
                else:
                    skipped[record.status] = skipped.get(record.status, 0) + 1
        done += len(records)
        last_created, last_id = records[-1].created_at, records[-1].pk
        ctx.progress(100 * done // max(total, 1), f"{done} of {total}")
    return {"action": payload.action, "matched": total, "acted": acted, "skipped": skipped}


def _check_actor(actor_id, action):
    from django.contrib.auth import get_user_model

    permission = ACTION_PERMISSIONS[action]
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id is not None else None
    if actor is None or not (actor.is_active and actor.is_staff and actor.has_perm(permission)):
        who = f"staff member {actor_id}" if actor_id is not None else "no staff member"
        raise PermanentError(f"bulk {action} refused: {who} holds {permission!r}")


class Prune(BaseModel):
    """No options: the rules are settings (JOBS_KEEP_SUCCEEDED_DAYS, JOBS_KEEP_DEAD_DAYS, JOBS_KEEP_FAILED)."""


@job_type("jobs.prune", payload=Prune, queue="default", max_attempts=3, timeout=3600)
def prune(payload: Prune, ctx):
    """Retention, run hourly by the built-in "Job retention" schedule (migration 0008): remove the
    finished records the rules no longer keep, in short batches. Idempotent: a second run finds them
    gone. Its result says what was removed, per status and per type (``jobs.retention.prune``)."""
    from jobs import retention

    return retention.prune()
