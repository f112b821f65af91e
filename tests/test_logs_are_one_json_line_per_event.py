"""Logs an engineer ships: one line per event (nothing printed twice), each line a JSON object in
production (``LOG_FORMAT=json``, the default without DEBUG) carrying the time, level, correlation ID and,
inside a job, the job's id, type, guild and actor; inside a request, the actor."""

import io
import json
import logging
import subprocess
import sys
import time

import pytest
from django.conf import settings

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project.correlation import CorrelationIdFilter
from project.log_format import JsonFormatter
from project.models import Guild
from tests.conftest import BASE_DIR, make_staff, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def json_lines(text):
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    return parsed


def test_a_workers_log_is_one_json_object_per_line_naming_the_job(start_worker, tmp_path):
    assert settings.LOG_FORMAT == "json"
    guild = Guild.objects.create(name="Loggers", slug="loggers")
    actor = make_staff("logan", "Job operators")
    worker = start_worker(log_path=tmp_path / "worker.log")
    record = enqueue("test.logs", {"marker": "m1"}, guild=guild, actor=actor, correlation_id="cid-logs-0001")
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=30)
    worker.stop()

    lines = json_lines((tmp_path / "worker.log").read_text())
    hello = [line for line in lines if line["message"] == "hello from the job m1"]
    assert len(hello) == 1, "the job's line was printed once"
    assert hello[0] | {"time": None} == {
        "time": None, "level": "INFO", "logger": "tests.jobtypes", "message": "hello from the job m1",
        "correlation_id": "cid-logs-0001", "job_id": str(record.pk), "job_type": "test.logs",
        "guild_id": guild.pk, "actor_id": actor.pk,
    }
    assert hello[0]["time"].endswith("+00:00") and "." in hello[0]["time"]
    messages = [line["message"] for line in lines]
    assert len(messages) == len(set(zip(messages, [line["time"] for line in lines]))), "a line printed twice"


def test_a_dead_job_is_one_error_line_with_its_own_traceback(start_worker, tmp_path):
    """A job that dies is one event: one ERROR line, naming the job and its correlation ID and carrying
    the job's own traceback, not a second one from RQ with the runner's wrapper and no correlation ID."""
    worker = start_worker(log_path=tmp_path / "worker.log")
    record = enqueue("test.permanent", {"marker": "dies"}, correlation_id="cid-dead-0001", max_attempts=1)
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).exists(), timeout=30)
    worker.stop()

    errors = [line for line in json_lines((tmp_path / "worker.log").read_text()) if line["level"] == "ERROR"]
    assert len(errors) == 1, errors
    assert errors[0]["job_id"] == str(record.pk) and errors[0]["correlation_id"] == "cid-dead-0001"
    assert "is dead" in errors[0]["message"]
    assert "PermanentError: the target is gone" in errors[0]["exception"]
    assert "JobDied" not in errors[0]["exception"]


def test_an_idle_worker_logs_nothing_at_every_maintenance_pass(start_worker, tmp_path):
    """The worker cleans RQ's registries every few seconds (``maintenance_interval``): at INFO that was a
    line per queue per pass, most of an idle worker's log."""
    worker = start_worker(log_path=tmp_path / "worker.log")
    wait_for(lambda: "Listening on" in (tmp_path / "worker.log").read_text(), timeout=30, message="the worker's start")
    time.sleep(6)  # the pass at start and one more: maintenance_interval is max(5, QUEUE_JOB_HEARTBEAT)
    worker.stop()
    messages = [line["message"] for line in json_lines((tmp_path / "worker.log").read_text())]
    assert not [m for m in messages if "cleaning registries" in m], messages
    assert len(messages) < 40, f"an idle worker wrote {len(messages)} lines in 6 s: {messages}"


def test_the_scheduler_prints_each_line_once(tmp_path):
    log = tmp_path / "scheduler.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", "jdtest.default"],
                                cwd=BASE_DIR, env=service_env(JOBS_SYSTEM_INTERVAL=1), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: b"Registering birth" in log.read_bytes(), timeout=30, message="the scheduler's start")
            time.sleep(1.5)
        finally:
            proc.terminate()
            proc.wait(15)
    lines = json_lines(log.read_text())
    assert [line["message"] for line in lines].count("Registering birth") == 1
    assert all(line["logger"] for line in lines)


def test_a_requests_log_line_names_its_correlation_id_and_actor(client):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(CorrelationIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        staff = make_staff("reqlog", "Job viewers")
        client.force_login(staff)
        response = client.get("/api/jobs/00000000-0000-0000-0000-000000000000",
                              headers={"X-Correlation-ID": "cid-request-42"})
        assert response.status_code == 404
    finally:
        logger.removeHandler(handler)
    lines = json_lines(out.getvalue())
    assert lines and lines[-1]["correlation_id"] == "cid-request-42" and lines[-1]["actor_id"] == staff.pk
    assert lines[-1]["level"] == "WARNING"
