"""A worker rides out a Redis restart (its data gone) and a database restart: it waits with backoff,
comes back by itself, registers again, and runs the jobs that follow. Plain RQ quits ("found an
unhandled exception, quitting") the first time Redis answers a heartbeat with a connection error."""

import time
from datetime import timedelta

import pytest
from rq import Worker as RQWorker

from jobs.connection import redis_connection
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.reconciler import reconcile
from tests.conftest import database_url, free_port, wait_for
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

QUICK = {"QUEUE_JOB_HEARTBEAT": 1}


def _succeeded(record, timeout=30, reconciling=False):
    """Wait for ``record`` to succeed, running the reconciler meanwhile when asked (as rqscheduler does)."""
    def done():
        if reconciling:
            reconcile(waiting_grace=timedelta(0))
        return JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first()

    return wait_for(done, timeout=timeout, interval=0.5, message=f"job {record.pk} to succeed")


@pytest.mark.parametrize("worker_class", ["jobs.worker.Worker", "jobs.worker.SimpleWorker", "jobs.worker.PersistentWorker"])
def test_a_worker_survives_a_redis_restart_that_loses_its_data(private_redis, start_worker, worker_class):
    worker = start_worker(worker_class=worker_class, env=QUICK)
    running = enqueue("test.sleep", {"marker": "across", "seconds": 3})
    wait_for(lambda: redis_connection().llen("test-runs:across") == 1, timeout=20, message="the job to start")

    private_redis.stop()  # mid-job: heartbeats and the job's own bookkeeping meet a refused connection
    time.sleep(3)
    assert worker.proc.poll() is None, worker.output()
    private_redis.start()  # empty: RQ's queues, registries and the worker's own key are gone

    assert _succeeded(running).attempts == 1, "the job in hand finished and was recorded once"
    after = enqueue("test.sleep", {"marker": "after", "seconds": 0})
    _succeeded(after)
    assert worker.proc.poll() is None
    wait_for(lambda: RQWorker.all(connection=redis_connection()), timeout=10,
             message="the worker registered again in the new Redis")


def _listed(worker):
    """The worker as RQ's workers set lists it, with the queues its hash names, on each of those queues."""
    conn = redis_connection()
    for listed in RQWorker.all(connection=conn):
        if listed.pid == worker.pid and set(listed.queue_names()) == set(worker.queues) and all(
                listed.key.encode() in conn.smembers(f"rq:workers:{queue}") for queue in worker.queues):
            return listed
    return None


def test_a_busy_worker_registers_again_after_redis_loses_its_data(private_redis, start_worker):
    worker = start_worker(env=QUICK)
    wait_for(lambda: _listed(worker), timeout=20, message="the worker to register")
    for _ in range(20):
        enqueue("test.sleep", {"marker": "before", "seconds": 0.2})
    wait_for(lambda: redis_connection().llen("test-runs:before") >= 2, timeout=20, message="the jobs to flow")

    private_redis.stop()  # mid-job: what the job's end writes next re-creates part of the worker's hash
    private_redis.start()  # empty: the worker's key, RQ's workers sets and queues are gone
    flowing = [enqueue("test.sleep", {"marker": "after", "seconds": 0.2}) for _ in range(40)]

    wait_for(lambda: _listed(worker), timeout=8, message="the busy worker listed again with its queues")
    assert redis_connection().llen("test-runs:after") < len(flowing), "listed again while it was still busy"
    assert worker.proc.poll() is None


@pytest.mark.parametrize("worker_class", ["jobs.worker.Worker", "jobs.worker.SimpleWorker", "jobs.worker.PersistentWorker"])
def test_a_worker_survives_a_database_restart(start_worker, worker_class):
    proxy = TcpProxy("127.0.0.1", 5432, free_port())
    proxy.start()
    behind_proxy = database_url().replace(":5432/", f":{proxy.port}/")
    worker = start_worker(worker_class=worker_class, env={**QUICK, "DATABASE_URL": behind_proxy})
    try:
        _succeeded(enqueue("test.sleep", {"marker": "before", "seconds": 0}))

        proxy.stop()  # every connection dropped, new ones refused
        during = enqueue("test.sleep", {"marker": "during", "seconds": 0})
        time.sleep(4)
        assert worker.proc.poll() is None, worker.output()
        # Taken before the worker saw the database go, its claim failed: still queued, never lost.
        assert JobRecord.objects.get(pk=during.pk).status == Status.QUEUED
        proxy.start()

        assert _succeeded(during, reconciling=True).attempts == 1
        _succeeded(enqueue("test.sleep", {"marker": "after", "seconds": 0}))
        assert worker.proc.poll() is None
    finally:
        proxy.stop()
