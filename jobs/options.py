"""Per-call options: ``enqueue(..., max_attempts=, backoff=, timeout=, priority=)`` override the job type's
declaration for one job.

What is promised:
- each option is checked like the declaration and refused with a ``JobError`` naming it (nothing written);
- the overrides are kept on the record (``max_attempts`` in its column, the others in ``options``), so
  every attempt uses them, after a worker crash or a Redis restart too: ``timeout_of`` gives RQ's job
  timeout (``jobs.dispatch``), ``backoff_of`` the delay before the next attempt (``jobs.retries``);
- ``priority`` is a level (``"high"``, ``"default"``, ``"low"``) or, for BullMQ users, a number mapped
  onto the levels: 1-3 high, 4-7 default, 8 and above low (up to BullMQ's 2,097,152); 0, BullMQ's
  "no priority", is default.

A backoff given per call must be storable: ``Fixed``/``Exponential`` (``jobs.backoff``), a number of
seconds (fixed), or their JSON form ``{"type": "fixed", "seconds": 3}`` /
``{"type": "exponential", "base": 2, "factor": 2, "cap": 3600, "jitter": true}``.
"""

import math
from datetime import timedelta

from jobs.backoff import Exponential, Fixed
from jobs.errors import JobError
from jobs.models import Priority

MAX_ATTEMPTS = 1000  # a per-call ceiling (the column holds 32767; staff retries add to it)
MAX_TIMEOUT = 7 * 86400
MAX_DELAY = 30 * 86400  # the longest backoff step a per-call backoff may declare
BULLMQ_MAX_PRIORITY = 2_097_152


def priority_level(priority) -> str:
    """The level for ``priority``: a level name, or a BullMQ-style number (1 is the highest)."""
    if isinstance(priority, bool):
        raise JobError("priority must be high, default, low or a number 0-2097152", field="priority",
                       code="invalid_priority")
    if isinstance(priority, int):
        if not 0 <= priority <= BULLMQ_MAX_PRIORITY:
            raise JobError(f"priority {priority} is out of range: 0-{BULLMQ_MAX_PRIORITY} (1 is the highest)",
                           field="priority", code="invalid_priority")
        if 1 <= priority <= 3:
            return Priority.HIGH
        return Priority.DEFAULT if priority <= 7 else Priority.LOW
    if priority not in Priority.values:
        raise JobError(f"unknown priority {priority!r}", field="priority", code="invalid_priority")
    return Priority(priority).value


def _number(value, field, *, low, high, integer=False):
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        raise JobError(f"{field} must be {kind} from {low} to {high}", field=field, code="invalid_option")
    return value


def clean_max_attempts(value):
    return None if value is None else _number(value, "max_attempts", low=1, high=MAX_ATTEMPTS, integer=True)


def clean_timeout(value):
    if value is None:
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds != int(seconds):
            raise JobError("timeout must be whole seconds", field="timeout", code="invalid_option")
        value = int(seconds)
    return _number(value, "timeout", low=1, high=MAX_TIMEOUT, integer=True)


def clean_backoff(value):
    """The JSON form of a per-call backoff, or None when none is given."""
    if value is None:
        return None
    if isinstance(value, Fixed):
        value = {"type": "fixed", "seconds": value.seconds}
    elif isinstance(value, Exponential):
        value = {"type": "exponential", "base": value.base, "factor": value.factor, "cap": value.cap,
                 "jitter": value.jitter}
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"type": "fixed", "seconds": value}
    if not isinstance(value, dict):
        raise JobError("backoff must be Fixed(...), Exponential(...), a number of seconds or "
                       '{"type": "fixed"|"exponential", ...}', field="backoff", code="invalid_option")
    kind = value.get("type")
    if kind == "fixed":
        allowed = {"type", "seconds"}
        clean = {"type": "fixed", "seconds": _number(value.get("seconds", 10.0), "backoff.seconds", low=0, high=MAX_DELAY)}
    elif kind == "exponential":
        allowed = {"type", "base", "factor", "cap", "jitter"}
        jitter = value.get("jitter", True)
        if not isinstance(jitter, bool):
            raise JobError("backoff.jitter must be true or false", field="backoff.jitter", code="invalid_option")
        clean = {"type": "exponential", "base": _number(value.get("base", 2.0), "backoff.base", low=0, high=MAX_DELAY),
                 "factor": _number(value.get("factor", 2.0), "backoff.factor", low=1, high=100),
                 "cap": _number(value.get("cap", 3600.0), "backoff.cap", low=0, high=MAX_DELAY), "jitter": jitter}
    else:
        raise JobError('backoff.type must be "fixed" or "exponential"', field="backoff.type", code="invalid_option")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise JobError(f"backoff.{unknown[0]} is not an option of a {kind} backoff", field=f"backoff.{unknown[0]}",
                       code="invalid_option")
    return clean


def clean(*, max_attempts=None, backoff=None, timeout=None) -> dict:
    """The overrides to store in ``JobRecord.options`` (only those given); ``JobError`` names a bad one."""
    given = {"max_attempts": clean_max_attempts(max_attempts), "timeout": clean_timeout(timeout),
             "backoff": clean_backoff(backoff)}
    return {name: value for name, value in given.items() if value is not None}


def _backoff_from_json(data):
    if data["type"] == "fixed":
        return Fixed(seconds=float(data["seconds"]))
    return Exponential(base=float(data["base"]), factor=float(data["factor"]), cap=float(data["cap"]),
                       jitter=bool(data["jitter"]))


def backoff_of(record, job_type):
    """The backoff policy of ``record``: its own, else its type's."""
    data = (record.options or {}).get("backoff")
    return _backoff_from_json(data) if data else job_type.backoff


def timeout_of(record, job_type) -> int:
    """Seconds an attempt of ``record`` may run: its own timeout, else its type's."""
    return (record.options or {}).get("timeout") or job_type.timeout
