"""The workers page: each worker's name, host, pid, queues, state, current job (linked), jobs done and
failed, last heartbeat; one that stopped beating shows as gone, and so does one Redis forgot while the
ledger still has a job running on it."""

import os
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from rq import Worker as RQWorker
from rq.utils import utcformat

from jobs.connection import queue_name, redis_connection
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = "/admin/jobs/jobrecord/workers/"


def rows(client):
    response = client.get(WORKERS)
    assert response.status_code == 200
    return {row["name"]: row for row in response.context["rows"]}, response.content.decode()


def test_a_running_worker_is_listed_with_its_job_and_counts(client, start_worker):
    client.force_login(make_staff("wanda", VIEWERS))
    worker = start_worker(queue_name("default"))
    done = enqueue("test.sleep", {"marker": "quick", "seconds": 0})
    wait_for(lambda: JobRecord.objects.filter(pk=done.pk, status=Status.SUCCEEDED).exists(), timeout=30)
    busy = enqueue("test.sleep", {"marker": "slow", "seconds": 30})
    wait_for(lambda: JobRecord.objects.filter(pk=busy.pk, status=Status.RUNNING).exists(), timeout=30)

    def shown():
        found, _ = rows(client)
        return next((row for row in found.values() if row["current_job"] == str(busy.pk)), None)

    row = wait_for(shown, timeout=20, message="the worker to show its current job")
    assert row["pid"] == worker.pid and row["hostname"] == socket.gethostname()
    assert row["queues"] == [queue_name("default")] and row["state"] == "running a job" and not row["gone"]
    assert row["done"] >= 1 and row["failed"] == 0 and row["last_heartbeat"] is not None
    _, html = rows(client)
    assert f'href="/admin/jobs/jobrecord/{busy.pk}/change/"' in html


def test_a_worker_between_jobs_shows_as_waiting(client, start_worker):
    """The default worker writes its state once per change (busy, then idle), not twice per job: what
    the page shows after a run of jobs is still the truth."""
    client.force_login(make_staff("wendy", VIEWERS))
    worker = start_worker(queue_name("default"))
    done = [enqueue("test.sleep", {"marker": f"quick-{i}", "seconds": 0}) for i in range(5)]
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in done], status=Status.SUCCEEDED).count() == 5,
             timeout=30)

    def waiting():
        row = next((row for row in rows(client)[0].values() if row["pid"] == worker.pid), None)
        return row if row and row["state"] == "waiting for jobs" and not row["current_job"] else None

    row = wait_for(waiting, timeout=10, message="the worker to show as waiting for jobs")
    assert row["done"] >= 5 and not row["gone"]
    later = enqueue("test.sleep", {"marker": "slow", "seconds": 30})
    wait_for(lambda: JobRecord.objects.filter(pk=later.pk, status=Status.RUNNING).exists(), timeout=30)
    busy = wait_for(lambda: next((r for r in rows(client)[0].values()
                                  if r["pid"] == worker.pid and r["state"] == "running a job"), None),
                    timeout=10, message="the worker to show as running a job again")
    assert busy["current_job"] == str(later.pk)


def test_a_worker_that_stopped_beating_shows_as_gone(client):
    conn = redis_connection()
    silent = RQWorker([queue_name("default")], name=f"silent-{os.getpid()}", connection=conn)
    silent.register_birth()
    try:
        conn.hset(silent.key, "last_heartbeat", utcformat(timezone.now() - timedelta(minutes=5)))
        running = enqueue("test.sleep", {"marker": "orphan", "seconds": 0})
        JobRecord.objects.filter(pk=running.pk).update(status=Status.RUNNING, worker="vanished-host.1234")
        client.force_login(make_staff("walt", VIEWERS))
        found, html = rows(client)
        assert found[silent.name]["gone"] and found[silent.name]["state"] == "gone"
        assert found["vanished-host.1234"]["gone"] and found["vanished-host.1234"]["current_job"] == str(running.pk)
        assert html.count("worker-gone") >= 2
    finally:
        silent.register_death()


def test_the_workers_page_is_for_staff_only(client, django_user_model):
    assert client.get(WORKERS).status_code == 302
    client.force_login(django_user_model.objects.create_user("civilian", password="x"))
    assert client.get(WORKERS).status_code == 302
