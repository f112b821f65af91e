"""After a failed attempt: retry after the job's backoff, or give up (dead).

The record decides, not only its type: ``max_attempts`` is the record's column and the backoff is the one
given to its ``enqueue`` call when there was one (``jobs.options``), else its type's.
"""

import math
from dataclasses import dataclass

from jobs import options
from jobs.models import Status


@dataclass(frozen=True)
class NextStep:
    status: str  # Status.RETRYING or Status.DEAD
    delay: int | None  # whole seconds before the next attempt (RQ's scheduler resolution)
    reason: str


def after_failure(record, job_type, *, attempt_number, retryable=True) -> NextStep:
    """Decide what follows attempt ``attempt_number`` of ``record``, which failed."""
    if not retryable:
        return NextStep(Status.DEAD, None, "not retryable")
    if record.attempts >= record.max_attempts:
        return NextStep(Status.DEAD, None, f"attempts exhausted ({record.attempts} of {record.max_attempts})")
    delay = max(1, math.ceil(max(0.0, float(options.backoff_of(record, job_type)(attempt_number)))))
    return NextStep(Status.RETRYING, delay, f"attempt {attempt_number} failed, retry in {delay}s")
