"""The job type the benchmark enqueues: a no-op, so that only jobdesk's own cost is measured.

Loaded through ``JOBS_TASK_MODULES=bench.jobtypes`` (the Makefile's ``bench`` target and the worker
processes that ``bench/throughput.py`` starts both set it).
"""

from pydantic import BaseModel

from jobs.registry import STAFF_ENQUEUE, job_type


class Noop(BaseModel):
    n: int


@job_type("bench.noop", payload=Noop, enqueue_permission=STAFF_ENQUEUE, queue="default")
def noop(payload: Noop, ctx):
    return None
