"""The jobs JSON API (django-ninja; OpenAPI document at /api/docs).

Every error is a 4xx JSON body naming the problem, never a 500 or an HTML page.
"""

from typing import Any, Literal

from django.db import transaction
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import django_auth
from pydantic import Field, StrictFloat, StrictInt

from jobs import enqueue as enqueue_service
from jobs import selectors
from jobs.errors import JobError

api = NinjaAPI(title="jobdesk", version="1", docs_url="/docs", urls_namespace="api")


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


@api.exception_handler(JobError)
def job_error(request, exc: JobError):
    return api.create_response(request, exc.as_dict(), status=400)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "payload_in")), "message": e.get("msg", "")}
        for e in exc.errors
    ]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    return api.create_response(
        request, {"error": "invalid_request", "message": first["message"], "field": first["field"], "errors": errors},
        status=422,
    )


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    return api.create_response(request, {"error": "unauthenticated", "message": "log in first"}, status=401)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    return api.create_response(request, {"error": "http_error", "message": str(exc)}, status=exc.status_code)


def _staff(request):
    if not request.user.is_staff:
        raise HttpError(403, "staff only")


@api.post("/jobs", auth=django_auth, response={202: EnqueuedOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut})
def enqueue_job(request, payload_in: EnqueueIn):
    """Enqueue a job of any declared type (staff only). Answers 202 with the job id and a status URL."""
    _staff(request)
    with transaction.atomic():
        record = enqueue_service.enqueue(
            payload_in.job_type, payload_in.payload, actor=request.user, priority=payload_in.priority,
            delay=payload_in.delay,
        )
    return Status(202, {
        "id": str(record.pk), "status": record.status, "correlation_id": record.correlation_id,
        "status_url": request.build_absolute_uri(f"/api/jobs/{record.pk}"),
    })


@api.get("/jobs/{job_id}", auth=django_auth, response={200: dict, 401: ErrorOut, 404: ErrorOut})
def job_status(request, job_id: str):
    """A job's status, progress, attempts and result or error. Staff see every job."""
    record = selectors.job_detail(job_id)
    if record is None or not request.user.is_staff:
        return Status(404, {"error": "not_found", "message": f"no job {job_id}"})
    return Status(200, selectors.job_as_dict(record))
