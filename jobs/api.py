"""The jobs endpoints: enqueue (staff holding the job type's permission), a job's status (scoped to the
caller's guilds), queue health (staff or the metrics token)."""

from typing import Any, Literal

from django.db import transaction
from ninja import Router, Schema, Status
from pydantic import Field, StrictFloat, StrictInt

from jobs import enqueue as enqueue_service
from jobs import queues, registry, selectors
from project.api_auth import METRICS, any_caller, refuse_metrics_token, require_staff
from project.tenancy import guild_ids_for

router = Router(tags=["jobs"])


class ErrorOut(Schema):
    error: str
    message: str
    field: str | None = None
    errors: list[dict] | None = None


class EnqueueIn(Schema):
    job_type: str = Field(min_length=1, max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["high", "default", "low"] = "default"
    delay: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=30 * 86400)


class EnqueuedOut(Schema):
    id: str
    status: str
    correlation_id: str
    status_url: str


def accepted(request, record, **extra):
    return Status(202, {
        "id": str(record.pk), "status": record.status, "correlation_id": record.correlation_id,
        "status_url": request.build_absolute_uri(f"/api/jobs/{record.pk}"), **extra,
    })


@router.post("/jobs", auth=any_caller,
             response={202: EnqueuedOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 411: ErrorOut, 413: ErrorOut,
                       415: ErrorOut, 422: ErrorOut})
def enqueue_job(request, payload_in: EnqueueIn):
    """Enqueue a job (staff holding the type's permission; internal types never). Answers 202 with the
    job id and a status URL; 403 names what is missing."""
    user = require_staff(request)
    registry.check_may_enqueue(payload_in.job_type, user)
    with transaction.atomic():
        record = enqueue_service.enqueue(
            payload_in.job_type, payload_in.payload, actor=user, priority=payload_in.priority,
            delay=payload_in.delay,
        )
    return accepted(request, record)


@router.get("/jobs/{job_id}", auth=any_caller, response={200: dict, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut})
def job_status(request, job_id: str):
    """A job's status, progress, attempts and result or error: staff see every job, a guild member the
    guild's jobs, a guild token its guild's jobs; any other job is a 404, as if it did not exist."""
    refuse_metrics_token(request)
    record = selectors.job_detail(job_id)
    token_guild = getattr(request, "token_guild", None)
    if token_guild is not None:
        allowed = record is not None and record.guild_id == token_guild.pk
    else:
        allowed = record is not None and (request.user.is_staff or record.guild_id in guild_ids_for(request.user))
    if not allowed:
        return Status(404, {"error": "not_found", "message": f"no job {job_id}"})
    return Status(200, selectors.job_as_dict(record))


@router.get("/queues/health", auth=any_caller, response={200: dict, 401: ErrorOut, 403: ErrorOut})
def queues_health(request):
    """Per queue: waiting, active, scheduled, failed, dead, paused, healthy (staff or METRICS_TOKEN)."""
    if request.auth != METRICS:
        require_staff(request, "staff or the metrics token only")
    rows = queues.queue_overview()
    return Status(200, {"queues": [
        {"name": r["name"], "waiting": r["waiting"], "active": r["running"], "scheduled": r["scheduled"],
         "retrying": r["retrying"], "failed": r["rq_failed"], "dead": r["dead"], "paused": r["paused"],
         "workers": len(r["workers"]),
         "healthy": not r["paused"] and (r["waiting"] == 0 or bool(r["workers"]))}
        for r in rows
    ]})
