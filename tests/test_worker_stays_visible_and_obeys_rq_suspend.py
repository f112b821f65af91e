"""jobdesk's workers send fewer heartbeats and suspension checks than RQ's, not fewer promises: a busy
worker stays listed (django-rq's workers page, the reconciler's liveness check), ``rq suspend`` stops
it taking jobs within a couple of seconds, and ``rq resume`` lets it go on."""

import time

import pytest
from rq import Worker
from rq.suspension import resume, suspend

from jobs.connection import redis_connection
from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_busy_worker_stays_registered_with_a_fresh_heartbeat(start_worker):
    start_worker(worker_class="jobs.worker.SimpleWorker")
    conn = redis_connection()
    worker = wait_for(lambda: next(iter(Worker.all(connection=conn)), None), message="the worker to register")
    records = enqueue_many("test.sleep", [{"marker": f"busy{i}", "seconds": 0.05} for i in range(60)])
    wait_for(lambda: JobRecord.objects.filter(status=Status.SUCCEEDED).count() >= 20, timeout=30)
    worker.refresh()
    assert worker.last_heartbeat is not None
    assert (time.time() - worker.last_heartbeat.timestamp()) < 3, "heartbeats go on while jobs run"
    assert conn.ttl(worker.key) > 10
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in records], status=Status.SUCCEEDED).count() == 60,
             timeout=30)


def test_rq_suspend_stops_a_worker_taking_jobs_and_rq_resume_lets_it_go_on(start_worker):
    conn = redis_connection()
    first = enqueue("test.sleep", {"marker": "first", "seconds": 0})
    start_worker(worker_class="jobs.worker.SimpleWorker")
    wait_for(lambda: JobRecord.objects.filter(pk=first.pk, status=Status.SUCCEEDED).exists(), timeout=20)

    suspend(conn)
    try:
        time.sleep(3.5)  # an idle worker looks again every PAUSE_POLL (2 s), reading the flag at most once a second
        held = enqueue("test.sleep", {"marker": "held", "seconds": 0})
        time.sleep(3)
        assert JobRecord.objects.get(pk=held.pk).status == Status.QUEUED, "a suspended worker takes nothing"
    finally:
        resume(conn)
    wait_for(lambda: JobRecord.objects.filter(pk=held.pk, status=Status.SUCCEEDED).exists(), timeout=20,
             message="the held job to run after rq resume")
