"""The job types the benchmarks enqueue: a no-op, so that only jobdesk's own cost is measured
(bench/throughput.py), and a chaos step that records each of its executions (bench/chaos.py).

Loaded through ``JOBS_TASK_MODULES=bench.jobtypes`` (the Makefile's ``bench`` target and the worker
processes that ``bench/throughput.py`` starts both set it).
"""

import os
import time

from django.db import connection
from pydantic import BaseModel, Field

from jobs.registry import STAFF_ENQUEUE, job_type


class Noop(BaseModel):
    n: int


@job_type("bench.noop", payload=Noop, enqueue_permission=STAFF_ENQUEUE, queue="default")
def noop(payload: Noop, ctx):
    return None


# --- bench/chaos.py -----------------------------------------------------------------------------------
# Each execution of a chaos step is a row in ``bench_chaos_execution`` (a table bench/chaos.py creates
# with raw SQL), committed on its own as soon as the work is done, before the runner records the
# outcome: a crash between the two leaves a row behind, so a second run of the job shows up as a second
# row. The job is idempotent in what matters (the rows only count executions).

CHAOS_TABLE = "bench_chaos_execution"
CHAOS_TABLE_SQL = f"""CREATE TABLE IF NOT EXISTS {CHAOS_TABLE} (
    id bigserial PRIMARY KEY,
    record_id uuid NOT NULL,
    attempt integer NOT NULL,
    pid integer NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
)"""


class ChaosStep(BaseModel):
    ms: int = Field(ge=0, le=60_000)


@job_type("bench.chaos_step", payload=ChaosStep, queue="default")
def chaos_step(payload: ChaosStep, ctx):
    """Sleep ``ms`` milliseconds (the work), then record the execution: record id, attempt, process."""
    time.sleep(payload.ms / 1000)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {CHAOS_TABLE} (record_id, attempt, pid) VALUES (%s, %s, %s)",
                       [str(ctx.record_id), ctx.attempt, os.getpid()])
    return None


# --- bench/throughput.py --features -------------------------------------------------------------------
# The unique-key enqueue cost: the same payload and shape as ``bench.noop``, with a key on ``n`` held
# while the job waits. The batch completion latency: a callback that records, in Redis, when it started.

from jobs.unique import Unique  # noqa: E402

BATCH_DONE_KEY = "bench-batch:callback-started"  # hash: batch id -> time.time() at the callback's start


@job_type("bench.noop_unique", payload=Noop, enqueue_permission=STAFF_ENQUEUE, queue="default",
          unique=Unique(key=("n",), scope="waiting"))
def noop_unique(payload: Noop, ctx):
    return None


@job_type("bench.batch_done", payload=Noop, queue="default")
def batch_done(payload: Noop, ctx):
    from jobs.connection import redis_connection

    started = time.time()
    redis_connection().hset(BATCH_DONE_KEY, str(ctx.batch.id), repr(started))
    return None
