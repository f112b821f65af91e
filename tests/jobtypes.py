"""Job types the suite declares (loaded through JOBS_TASK_MODULES=tests.jobtypes, in the test process and
in the worker processes it starts)."""

import time

from pydantic import BaseModel, Field

from jobs.backoff import Exponential, Fixed
from jobs.connection import redis_connection
from jobs.enqueue import enqueue
from jobs.errors import PermanentError
from jobs.registry import STAFF_ENQUEUE, job_type


def record_run(marker, ctx):
    """Leave a trace of each run in Redis, so a test can count runs independently of the ledger."""
    redis_connection().rpush(f"test-runs:{marker}", f"{ctx.record_id}:{ctx.attempt}")


class Flaky(BaseModel):
    marker: str
    fail_times: int = Field(ge=0)


@job_type("test.flaky", payload=Flaky, enqueue_permission=STAFF_ENQUEUE, max_attempts=5, backoff=Exponential(base=1, factor=2, jitter=False))
def flaky(payload, ctx):
    record_run(payload.marker, ctx)
    if ctx.attempt <= payload.fail_times:
        raise ConnectionError(f"peer refused (attempt {ctx.attempt})")
    return {"attempt": ctx.attempt}


class Marker(BaseModel):
    marker: str


@job_type("test.always_fails", payload=Marker, enqueue_permission=STAFF_ENQUEUE, max_attempts=3, backoff=Fixed(1))
def always_fails(payload, ctx):
    record_run(payload.marker, ctx)
    raise ValueError("this job never works")


@job_type("test.permanent", payload=Marker, enqueue_permission=STAFF_ENQUEUE, max_attempts=5)
def permanent(payload, ctx):
    record_run(payload.marker, ctx)
    raise PermanentError("the target is gone")


class Sleep(BaseModel):
    marker: str
    seconds: float = Field(ge=0, le=60)


@job_type("test.sleep", payload=Sleep, enqueue_permission=STAFF_ENQUEUE, max_attempts=3, backoff=Fixed(1), timeout=120)
def sleep(payload, ctx):
    record_run(payload.marker, ctx)
    time.sleep(payload.seconds)
    return {"slept": payload.seconds}


@job_type("test.too_slow", payload=Sleep, enqueue_permission=STAFF_ENQUEUE, max_attempts=1, timeout=1)
def too_slow(payload, ctx):
    record_run(payload.marker, ctx)
    time.sleep(payload.seconds)


@job_type("test.spawn_child", payload=Marker, enqueue_permission=STAFF_ENQUEUE)
def spawn_child(payload, ctx):
    """Enqueues a child job: it must inherit the correlation ID and name this job as parent."""
    record_run(payload.marker, ctx)
    child = enqueue("audit.record_event", {"action": "test.child", "resource_type": "test", "resource_id": payload.marker})
    return {"child": str(child.pk)}


@job_type("test.limited", payload=Sleep, enqueue_permission=STAFF_ENQUEUE, concurrency=lambda: 1, max_attempts=1)
def limited(payload, ctx):
    """At most one at a time per guild: records when each run starts and ends."""
    conn = redis_connection()
    conn.rpush(f"test-spans:{ctx.guild_id}", f"start:{time.time()}:{ctx.record_id}")
    time.sleep(payload.seconds)
    conn.rpush(f"test-spans:{ctx.guild_id}", f"end:{time.time()}:{ctx.record_id}")


# --- rate limits (tests/test_rate_limits.py) ----------------------------------------------------------

def record_start(marker, ctx):
    """When each run started (Redis's list ``test-starts:<marker>``: ``time:guild:record:attempt``)."""
    redis_connection().rpush(f"test-starts:{marker}", f"{time.time()}:{ctx.guild_id}:{ctx.record_id}:{ctx.attempt}")


@job_type("test.rate_20_per_second", payload=Marker, enqueue_permission=STAFF_ENQUEUE, rate_limit="20/s")
def rate_20_per_second(payload, ctx):
    record_start(payload.marker, ctx)


@job_type("test.rate_2_per_4s_per_guild", payload=Marker, enqueue_permission=STAFF_ENQUEUE,
          rate_limit="2/4s per guild")
def rate_2_per_4s_per_guild(payload, ctx):
    record_start(payload.marker, ctx)


# --- unique jobs (tests/test_unique_jobs.py) ------------------------------------------------------------

from datetime import timedelta  # noqa: E402

from jobs.unique import Unique  # noqa: E402


class Report(BaseModel):
    report_id: int
    seconds: float = Field(default=0, ge=0, le=60)


@job_type("test.unique_waiting", payload=Report, enqueue_permission=STAFF_ENQUEUE, max_attempts=1,
          unique=Unique(key=("guild", "report_id"), scope="waiting"))
def unique_waiting(payload, ctx):
    record_run(f"unique-{payload.report_id}", ctx)
    time.sleep(payload.seconds)


@job_type("test.unique_active", payload=Report, enqueue_permission=STAFF_ENQUEUE, max_attempts=1,
          unique=Unique(key=("report_id",), scope="active"))
def unique_active(payload, ctx):
    record_run(f"unique-{payload.report_id}", ctx)
    time.sleep(payload.seconds)


@job_type("test.unique_period", payload=Report, enqueue_permission=STAFF_ENQUEUE, max_attempts=1,
          unique=Unique(key=lambda payload, guild_id: f"report-{payload['report_id']}", scope=timedelta(seconds=1)))
def unique_period(payload, ctx):
    record_run(f"unique-{payload.report_id}", ctx)


# --- batches (tests/test_batches_run_their_callback_once.py) ---------------------------------------------

import json  # noqa: E402


@job_type("test.batch_done", payload=Marker, enqueue_permission=STAFF_ENQUEUE, max_attempts=3)
def batch_done(payload, ctx):
    """A batch's callback: records each call and the lists ``ctx.batch`` gave it (Redis list
    ``test-batch-done:<marker>``, one JSON object per call)."""
    batch = ctx.batch
    redis_connection().rpush(f"test-batch-done:{payload.marker}", json.dumps({
        "record": str(ctx.record_id), "batch": batch.id, "total": batch.total,
        "succeeded": [str(pk) for pk in batch.succeeded], "dead": [str(pk) for pk in batch.dead],
        "canceled": [str(pk) for pk in batch.canceled],
    }))


# --- the persistent worker (tests/test_jobs_run_in_a_reused_work_process.py) -----------------------------

import os  # noqa: E402
import signal  # noqa: E402


class Exit(BaseModel):
    marker: str
    exit: bool = False
    segfault: bool = False
    seconds: float = Field(default=0, ge=0, le=60)
    deaf: bool = False


@job_type("test.whoami", payload=Exit, enqueue_permission=STAFF_ENQUEUE, max_attempts=2, timeout=30)
def whoami(payload, ctx):
    """Answers the pid of the process that ran it; ``exit`` (or ``segfault``) kills that process mid-job; ``deaf`` makes it
    deaf to RQ's in-process timeout (SIGALRM blocked: a job stuck where Python cannot interrupt it)."""
    record_run(payload.marker, ctx)
    if payload.exit:
        os._exit(3)
    if payload.segfault:
        os.kill(os.getpid(), signal.SIGSEGV)
    if payload.deaf:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(payload.seconds)
    return {"pid": os.getpid()}


# --- logs (tests/test_logs_are_one_json_line_per_event.py) ------------------------------------------------

import logging  # noqa: E402


@job_type("test.logs", payload=Marker, enqueue_permission=STAFF_ENQUEUE, max_attempts=1)
def logs(payload, ctx):
    logging.getLogger("tests.jobtypes").info("hello from the job %s", payload.marker)


# --- waiting for other jobs, and calling itself off (tests/test_a_job_may_wait_for_other_jobs.py) --------

from jobs.errors import Canceled, Waiting  # noqa: E402


class Wait(BaseModel):
    marker: str
    seconds: int = 3600


@job_type("test.waits_once", payload=Wait, max_attempts=1)
def waits_once(payload, ctx):
    """Waits (``jobs.errors.Waiting``) on its first run, for ``seconds`` or until woken; succeeds after."""
    record_run(payload.marker, ctx)
    if redis_connection().set(f"test-waited:{payload.marker}", "1", nx=True):
        raise Waiting(f"waiting for {payload.marker}", seconds=payload.seconds)
    return "done waiting"


@job_type("test.cancels_itself", payload=Marker, max_attempts=3)
def cancels_itself(payload, ctx):
    record_run(payload.marker, ctx)
    raise Canceled(f"called off: {payload.marker}")


# --- text the ledger cannot store, from a job (tests/test_a_job_with_unstorable_text_still_ends.py) ------


@job_type("test.unstorable", payload=Marker, max_attempts=2, backoff=Fixed(1))
def unstorable(payload, ctx):
    """Returns, or fails with, text holding a NUL and a lone surrogate half (binary data read as text)."""
    record_run(payload.marker, ctx)
    if payload.marker.startswith("fail"):
        raise ValueError("bad byte \x00 and half \ud800 in the input")
    if payload.marker == "nan":
        return {"ratio": float("nan")}
    if payload.marker == "object":
        import datetime
        return {"when": datetime.date(2026, 12, 7)}
    return {"text": "nul \x00 inside", "half": "\udfff", "key \x00": 1}


# --- a rate-limited backlog (tests/test_a_rate_limited_backlog_is_parked_once.py) -----------------------


@job_type("test.rate_1_per_2s", payload=Marker, enqueue_permission=STAFF_ENQUEUE, rate_limit="1/2s")
def rate_1_per_2s(payload, ctx):
    """Records its start and how many times the runner parked its RQ job before it ran (RQ counts each
    ``Retry`` the runner returned: ``number_of_retries``)."""
    from rq import get_current_job

    parks = get_current_job().number_of_retries or 0
    redis_connection().rpush(f"test-parks:{payload.marker}", f"{time.time()}:{ctx.record_id}:{parks}")
