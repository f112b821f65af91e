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


class CorrelationIdFilter(logging.Filter):
    """Adds ``record.correlation_id`` (``-`` when none is bound) to every log record."""

    def filter(self, record):
        record.correlation_id = _current.get() or "-"
        return True
