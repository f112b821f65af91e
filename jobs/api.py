"""The jobs endpoints: enqueue (staff holding the job type's permission), a job's status (scoped to the
caller's guilds), queue health (staff or the metrics token)."""

from typing import Annotated, Any, Literal, Union

from django.db import transaction
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from jobs import enqueue as enqueue_service
from jobs import queues, registry, selectors, waiting
from jobs.errors import JobError
from jobs.models import JobRecord
from project.api_auth import METRICS, any_caller, refuse_metrics_token, require_staff, staff_holding
from project.tenancy import guild_ids_for

router = Router(tags=["jobs"])


class ErrorOut(Schema):
    error: str
    message: str
    field: str | None = None
    errors: list[dict] | None = None


Seconds = Annotated[StrictInt | StrictFloat, Field(ge=0, le=30 * 86400)]


class FixedBackoffIn(Schema):
    model_config = ConfigDict(extra="forbid")
    type: Literal["fixed"]
    seconds: Seconds = 10


class ExponentialBackoffIn(Schema):
    model_config = ConfigDict(extra="forbid")
    type: Literal["exponential"]
    base: Seconds = 2
    factor: Annotated[StrictInt | StrictFloat, Field(ge=1, le=100)] = 2
    cap: Seconds = 3600
    jitter: StrictBool = True


class EnqueueIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, not silently dropped
    job_type: str = Field(min_length=1, max_length=100)
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Literal["high", "default", "low"] | Annotated[StrictInt, Field(ge=0, le=2_097_152)] = Field(
        default="default", description="A level, or a BullMQ-style number: 1-3 high, 4-7 default, 8 and above "
                                       "low, 0 default.")
    delay: StrictInt | StrictFloat | None = Field(default=None, ge=0, le=30 * 86400)
    max_attempts: StrictInt | None = Field(default=None, ge=1, le=1000,
                                           description="Overrides the job type's attempts for this job.")
    timeout: StrictInt | None = Field(default=None, ge=1, le=7 * 86400,
                                      description="Seconds an attempt may run, instead of the type's.")
    backoff: Annotated[Union[FixedBackoffIn, ExponentialBackoffIn], Field(discriminator="type")] | None = Field(
        default=None, description="Delay before each retry, instead of the type's.")

    @field_validator("priority", mode="before")
    @classmethod
    def _one_priority_error(cls, value):
        """One error naming ``priority`` (not each member of the union) for a value that is neither."""
        is_number = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2_097_152
        if not (is_number or value in ("high", "default", "low")):
            raise ValueError("must be high, default, low or a whole number 0-2097152 (1 is the highest)")
        return value


class EnqueuedOut(Schema):
    id: str
    status: str
    correlation_id: str
    status_url: str


class ExistingOut(EnqueuedOut):
    created: bool = Field(description="False: a unique job type's key is held by this existing job.")


def idempotency_key(request):
    """The request's ``Idempotency-Key`` header ("" without one): at most 100 printable ASCII characters
    (a UUID or a client's own token), else ``JobError`` naming the header."""
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 100:
        raise JobError("Idempotency-Key is over 100 characters", field="Idempotency-Key")
    if not all(" " <= char <= "~" for char in key):
        raise JobError("Idempotency-Key may hold printable ASCII characters only", field="Idempotency-Key")
    return key


def accepted(request, record, **extra):
    return Status(202, {
        "id": str(record.pk), "status": record.status, "correlation_id": record.correlation_id,
        "status_url": request.build_absolute_uri(f"/api/jobs/{record.pk}"), **extra,
    })


@router.post("/jobs", auth=any_caller,
             response={200: ExistingOut, 202: EnqueuedOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut,
                       413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def enqueue_job(request, payload_in: EnqueueIn):
    """Enqueue a job (staff holding the type's permission; internal types never). Answers 202 with the
    job id and a status URL; 403 names what is missing. For a unique job type whose key an existing job
    holds, 200 with that job (``created: false``) and nothing new is written. ``max_attempts``,
    ``timeout``, ``backoff`` and ``priority`` override the type's declaration for this job."""
    user = require_staff(request)
    job_type = registry.check_may_enqueue(payload_in.job_type, user)
    enqueue_service.refuse_unknown_fields(job_type, payload_in.payload)
    backoff = payload_in.backoff.model_dump() if payload_in.backoff is not None else None
    with transaction.atomic():
        record = enqueue_service.enqueue(
            payload_in.job_type, payload_in.payload, actor=user, priority=payload_in.priority,
            delay=payload_in.delay, max_attempts=payload_in.max_attempts, timeout=payload_in.timeout,
            backoff=backoff,
        )
    if not record.created:
        return Status(200, {"id": str(record.pk), "status": record.status, "correlation_id": record.correlation_id,
                            "status_url": request.build_absolute_uri(f"/api/jobs/{record.pk}"), "created": False})
    return accepted(request, record)


# The longest long poll: each one holds a server worker (a sync gunicorn worker) while it waits.
MAX_WAIT = 30
# Long polls one caller (a person, or a guild's tokens) may hold at once: more would hold every server worker.
MAX_WAITS_PER_CALLER = 5


def _caller(request) -> str:
    token_guild = getattr(request, "token_guild", None)
    return f"guild-token:{token_guild.pk}" if token_guild is not None else f"user:{request.user.pk}"


@router.get("/jobs/{job_id}", auth=any_caller,
            response={200: dict, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut,
                      429: ErrorOut})
def job_status(request, job_id: str, wait: float = Query(0, ge=0, le=MAX_WAIT, description=(
        "Seconds (0-30) to wait for the job to end: answers as soon as it has succeeded, died or been "
        "canceled, else after `wait` seconds with its current status."))):
    """A job's status, progress, attempts and result or error: staff who may view jobs see every job, a
    guild member the guild's jobs, a guild token its guild's jobs; any other job is a 404, as if it did
    not exist (at once, whatever ``wait``). With ``wait``, a long poll (``jobs.waiting``)."""
    refuse_metrics_token(request)
    record = selectors.job_detail(job_id)
    token_guild = getattr(request, "token_guild", None)
    staff = token_guild is None and staff_holding(request.user, "jobs.view_jobrecord")
    if token_guild is not None:
        allowed = record is not None and record.guild_id == token_guild.pk
    else:
        allowed = record is not None and (staff or record.guild_id in guild_ids_for(request.user))
    if allowed and wait > 0 and not record.is_terminal:
        with waiting.wait_slot(_caller(request), MAX_WAITS_PER_CALLER) as may_wait:
            if not may_wait:
                return Status(429, {"error": "too_many_waits", "field": "wait", "message": (
                    f"at most {MAX_WAITS_PER_CALLER} long polls at once per caller: ask again without `wait`, "
                    "or once one of yours has answered")})
            try:
                record = waiting.wait_for_end(record.pk, wait,
                                              queryset=JobRecord.objects.prefetch_related("attempt_set"))
            except JobRecord.DoesNotExist:  # deleted while we waited
                allowed = False
    if not allowed:
        return Status(404, {"error": "not_found", "message": f"no job {job_id}"})
    return Status(200, selectors.job_as_dict(record, request.build_absolute_uri, for_staff=staff))


@router.get("/queues/health", auth=any_caller, response={200: dict, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut})
def queues_health(request):
    """Per queue: waiting, active, scheduled, failed, dead, paused, healthy (staff who may view jobs, or
    METRICS_TOKEN)."""
    if request.auth != METRICS:
        require_staff(request, "staff or the metrics token only", permission="jobs.view_jobrecord")
    rows = queues.queue_overview()
    return Status(200, {"queues": [
        {"name": r["name"], "waiting": r["waiting"], "active": r["running"], "scheduled": r["scheduled"],
         "retrying": r["retrying"], "failed": r["rq_failed"], "dead": r["dead"], "paused": r["paused"],
         "workers": len(r["workers"]),
         "healthy": not r["paused"] and (r["waiting"] == 0 or bool(r["workers"]))}
        for r in rows
    ]})
