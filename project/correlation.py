"""The correlation ID of the work in progress: one request, or one job and everything it enqueues.

A context variable, so it follows the request or job through threads and async code, is bound into
every log line (``CorrelationIdFilter``) and every Sentry event, and is read by ``jobs.enqueue`` so that
records, attempts and audit events carry it. This module is a leaf: it imports nothing of jobdesk.
"""

import contextlib
import logging
import re
import sys
import uuid
from contextvars import ContextVar

# Letters, digits and ._:- only, 8 to 64 characters: a UUID, a ULID, a trace id; nothing that could
# smuggle a newline into a log line or markup into a page.
_VALID = re.compile(r"[A-Za-z0-9._:-]{8,64}")

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)
# What else a log line says about the work in progress: job_id, job_type, guild_id, actor_id.
_fields: ContextVar[dict | None] = ContextVar("log_fields", default=None)
LOG_FIELDS = ("job_id", "job_type", "guild_id", "actor_id")


def new_id() -> str:
    return uuid.uuid4().hex


def is_valid(value) -> bool:
    return isinstance(value, str) and _VALID.fullmatch(value) is not None


def get() -> str | None:
    """The bound correlation ID, or None outside a request or job."""
    return _current.get()


def get_or_new() -> str:
    return _current.get() or new_id()


@contextlib.contextmanager
def bind(correlation_id: str):
    """Bind ``correlation_id`` for the duration of the block (and Sentry's scope, when enabled)."""
    token = _current.set(correlation_id)
    # Only when Sentry was set up (SENTRY_DSN): importing it here would cost every job an import.
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is not None:
        with contextlib.suppress(Exception):  # Sentry is optional; it must never break the work
            sentry_sdk.set_tag("correlation_id", correlation_id)
    try:
        yield correlation_id
    finally:
        _current.reset(token)


@contextlib.contextmanager
def bind_fields(**fields):
    """Bind log fields (``LOG_FIELDS``) for the block; yields the dict, which ``add_fields`` may fill."""
    token = _fields.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield _fields.get()
    finally:
        _fields.reset(token)


def log_fields() -> dict:
    """The bound log fields (a copy); {} outside a job or request."""
    return dict(_fields.get() or {})


def add_fields(**fields):
    """Add log fields to those bound (a request learns its actor after the middleware bound them)."""
    bound = _fields.get()
    if bound is not None:
        bound.update({k: v for k, v in fields.items() if v is not None})


class CorrelationIdFilter(logging.Filter):
    """Adds ``record.correlation_id`` (``-`` when none is bound) to every log record, and the bound log
    fields (``record.job_id`` etc., None when unknown)."""

    def filter(self, record):
        bound = _fields.get() or {}
        request = getattr(record, "request", None)  # Django's own request lines, logged after the middleware
        if request is not None and not bound:
            bound = _request_fields(request)
        record.correlation_id = _current.get() or getattr(request, "correlation_id", None) or "-"
        for name in LOG_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, bound.get(name))
        return True


def _request_fields(request):
    try:
        user = request.user
        return {"actor_id": user.pk} if user.is_authenticated else {}
    except Exception:  # a log line must never fail on the way (no user middleware, database away)
        return {}
