"""``/healthz`` says the process is up; ``/readyz`` says whether jobdesk can take work and, when not, names
the failing part: the database, Redis, or a queue with jobs waiting and no live worker. A Redis that may
lose jobs (eviction, no persistence) is warned about on ``/readyz``, on the queues page and in a worker's
log at start-up."""

import pytest
from django.db import connections
from django.urls import reverse

from jobs import connection as jobs_connection
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.readiness import redis_durability_warnings
from tests.conftest import make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz_answers_while_the_process_is_up(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ready_when_everything_answers_and_waiting_queues_have_workers(client, start_worker):
    record = enqueue("test.sleep", {"marker": "ready", "seconds": 0})
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["workers"]
    assert "no live worker for jdtest.default (1 waiting)" in answer.json()["checks"]["workers"]

    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=30)
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["checks"] == {"database": "ok", "redis": "ok", "workers": "ok"}


def test_redis_down_is_named(client, settings, private_redis, caplog):
    private_redis.stop()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["redis", "workers"]
    assert answer.json()["checks"]["redis"] == "unavailable: ConnectionError"
    # /readyz is public: where Redis lives is in the log, not in the answer
    assert str(private_redis.port) not in answer.content.decode()
    assert str(private_redis.port) in caplog.text


def test_the_database_down_is_named(client, monkeypatch, caplog):
    from jobs import readiness

    def refuse(*args, **kwargs):
        raise connections["default"].Database.OperationalError("connection refused")

    monkeypatch.setattr(readiness.connections["default"], "cursor", refuse)
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["failing"] == ["database"]
    assert answer.json()["checks"]["database"] == "unavailable: OperationalError"
    assert "connection refused" not in answer.content.decode()
    assert "connection refused" in caplog.text


def test_a_redis_that_may_lose_jobs_is_warned_about(client, private_redis):
    conn = jobs_connection.redis_connection()
    conn.config_set("maxmemory-policy", "allkeys-lru")
    warnings = redis_durability_warnings()
    assert any("maxmemory-policy allkeys-lru" in w for w in warnings)
    assert any("only in memory" in w for w in warnings)
    assert client.get("/readyz").json()["warnings"] == warnings
    client.force_login(make_staff("ops", "Job viewers"))
    page = client.get(reverse("admin:jobs_queues")).content.decode()
    assert "maxmemory-policy allkeys-lru" in page

    conn.config_set("maxmemory-policy", "noeviction")
    conn.config_set("save", "3600 1")
    assert redis_durability_warnings() == []
    conn.config_set("save", "")


def test_a_worker_warns_at_start_when_redis_may_lose_jobs(private_redis, start_worker, tmp_path):
    worker = start_worker(log_path=tmp_path / "worker.log")
    wait_for(lambda: b"only in memory" in (tmp_path / "worker.log").read_bytes(), timeout=30,
             message="the worker's warning about Redis")
    worker.stop()
