"""Job types for the demo data of ``make run`` (loaded through JOBS_TASK_MODULES, not in production)."""

import time

from pydantic import BaseModel, Field

from jobs.backoff import Fixed
from jobs.errors import PermanentError
from jobs.registry import STAFF_ENQUEUE, job_type


class Steps(BaseModel):
    steps: int = Field(default=5, ge=1, le=100)
    seconds_per_step: float = Field(default=1.0, ge=0, le=10)


@job_type("demo.slow_report", payload=Steps, enqueue_permission=STAFF_ENQUEUE, queue="exports", timeout=600)
def slow_report(payload: Steps, ctx):
    """Works for a while and reports progress: watch it move in the admin."""
    for step in range(1, payload.steps + 1):
        time.sleep(payload.seconds_per_step)
        ctx.progress(100 * step // payload.steps, f"step {step} of {payload.steps}")
    return {"steps": payload.steps}


class Flaky(BaseModel):
    fail_times: int = Field(default=1, ge=0, le=10)


@job_type("demo.flaky_webhook", payload=Flaky, enqueue_permission=STAFF_ENQUEUE, queue="notifications", max_attempts=4, backoff=Fixed(3))
def flaky_webhook(payload: Flaky, ctx):
    """Fails its first ``fail_times`` attempts, then succeeds: a retried job with its attempts."""
    if ctx.attempt <= payload.fail_times:
        raise ConnectionError(f"demo peer refused the connection (attempt {ctx.attempt})")
    return {"delivered_on_attempt": ctx.attempt}


class Broken(BaseModel):
    reason: str = "the demo target was deleted"


@job_type("demo.broken_branding", payload=Broken, enqueue_permission=STAFF_ENQUEUE, queue="branding")
def broken_branding(payload: Broken, ctx):
    """Always fails with a non-retryable error: a dead letter for the admin to look at."""
    raise PermanentError(payload.reason)
