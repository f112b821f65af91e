"""The jobdesk side of bench/peers.py: one job type whose body is bench/peer_record.py's ``work``, the
same body the bare-RQ, Celery and Dramatiq jobs run.

Loaded through ``JOBS_TASK_MODULES=bench.peer_jobdesk`` (bench/peers.py sets it for itself and for the
``manage.py rqworker`` processes it starts).
"""

from pydantic import BaseModel, Field

from bench.peer_record import work
from jobs.registry import STAFF_ENQUEUE, job_type


class PeerWork(BaseModel):
    n: int
    sleep_ms: int = Field(default=0, ge=0, le=60_000)


@job_type("bench.peer_work", payload=PeerWork, enqueue_permission=STAFF_ENQUEUE, queue="default")
def peer_work(payload: PeerWork, ctx):
    work(payload.n, payload.sleep_ms)
    return None
