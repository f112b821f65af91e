"""The JSON API (django-ninja; OpenAPI document at /api/docs), assembled from each app's router.

Callers are a logged-in user (session cookie, with CSRF on writes), a guild's API token
(``Authorization: Bearer jdt_…``), which acts as an admin of its guild, or the monitoring token
(project/api_auth.py). Every error is a 4xx JSON body naming the problem, never a 500 page or HTML:
no valid credentials is a 401 with ``WWW-Authenticate``, credentials without the right a 403 naming
the right. Bodies are limited and must be JSON before any of this runs (project/middleware.py).

Field errors are 422 ``{"error": "invalid_request", "message", "field", "errors": [{field, message}, ...]}``
naming every bad field at once, in plain words (pydantic's "Value error, " prefix removed); a body that
is not JSON is 400 ``{"error": "invalid_json", "message"}``.
"""

import json
import re

from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from branding.api import router as branding_router
from exports.api import router as exports_router
from jobs.api import router as jobs_router
from jobs.errors import JobError
from project.api_auth import CHALLENGE, CsrfFailed
from project.guild_api import router as guild_router


api = NinjaAPI(title="jobdesk", version="1", docs_url="/docs", urls_namespace="api")


def _body(code, message, field=None, errors=None):
    body = {"error": code, "message": message}
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return body


@api.exception_handler(JobError)
def job_error(request, exc: JobError):
    status = {"not_found": 404, "forbidden": 403, "conflict": 422}.get(exc.code, 400)
    body = exc.as_dict()
    body["message"] = plain_message(body["message"])  # a payload's pydantic error, through jobs.enqueue
    if body.get("errors"):
        body["errors"] = [{**e, "message": plain_message(e.get("message", ""))} for e in body["errors"]]
    return api.create_response(request, body, status=status)


# What pydantic puts before the message of a ValueError or an assert in a validator: noise to a caller.
_PYDANTIC_PREFIX = re.compile(r"(^|: )(?:Value error|Assertion failed), ")


def plain_message(message: str) -> str:
    """``"Value error, a hex colour like #5865f2"`` → ``"a hex colour like #5865f2"`` (also after a
    ``"field: "`` prefix)."""
    return _PYDANTIC_PREFIX.sub(r"\1", str(message))


# Where ninja found a value (body, query, path) and the views' parameter names: not part of a field's name.
NOT_FIELDS = ("body", "query", "path", "payload_in", "export_in")


def _field_name(loc):
    """``["query", "wait"]`` → ``wait``; ``["body", "payload_in", "backoff", "base"]`` → ``backoff.base``."""
    parts = list(loc)
    while parts and parts[0] in NOT_FIELDS:
        parts.pop(0)
    return ".".join(str(p) for p in parts)


@api.exception_handler(ValidationError)
def validation_error(request, exc: ValidationError):
    errors = [
        {"field": _field_name(e.get("loc", ())),
         "message": plain_message(e.get("msg", ""))}
        for e in exc.errors
    ]
    first = errors[0] if errors else {"field": None, "message": "invalid request"}
    return api.create_response(request, _body("invalid_request", first["message"], first["field"], errors),
                               status=422)


@api.exception_handler(AuthenticationError)
def unauthenticated(request, exc):
    if request.headers.get("Authorization"):
        body = _body("unauthenticated", "the API token is not valid (unknown, revoked or malformed)")
        challenge = f'{CHALLENGE}, error="invalid_token"'
    else:
        body = _body("unauthenticated", "log in or send a valid API token (Authorization: Bearer ...)")
        challenge = CHALLENGE
    response = api.create_response(request, body, status=401)
    response["WWW-Authenticate"] = challenge
    return response


@api.exception_handler(CsrfFailed)
def csrf_failed(request, exc: CsrfFailed):
    message = (f"CSRF check failed ({exc}): a logged-in session must send its CSRF token in the "
               "X-CSRFToken header")
    return api.create_response(request, _body("csrf_failed", message), status=403)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    if exc.status_code == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):  # ninja's body parser
        return api.create_response(request, _body("invalid_json", _not_json(exc.__cause__)), status=400)
    code = "forbidden" if exc.status_code == 403 else "http_error"
    return api.create_response(request, _body(code, str(exc)), status=exc.status_code)


def _not_json(cause: ValueError | RecursionError) -> str:
    if isinstance(cause, RecursionError):
        return "the request body is JSON nested deeper than it can be read"
    if isinstance(cause, json.JSONDecodeError):
        return (f"the request body is not valid JSON: {cause.msg.lower()} at line {cause.lineno}, "
                f"column {cause.colno}")
    return "the request body is not valid JSON (send UTF-8 encoded JSON)"


api.add_router("/", jobs_router)
api.add_router("/control-panel/", exports_router)
api.add_router("/control-panel/", branding_router)
api.add_router("/control-panel/", guild_router)
