"""``manage.py rqscheduler`` runs the relay and the reconciler on its own, every few seconds."""

import subprocess
import sys
import time

import pytest

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import BASE_DIR, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_scheduler_relays_pending_jobs_and_requeues_lost_ones(private_redis, start_worker):
    private_redis.stop()
    pending = enqueue("test.sleep", {"marker": "pending", "seconds": 0})
    assert pending.status == Status.PENDING
    private_redis.start()

    scheduler = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", pending.queue],
        cwd=BASE_DIR, env=service_env(JOBS_SYSTEM_INTERVAL=1, JOBS_RELAY_GRACE=0),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: JobRecord.objects.filter(pk=pending.pk, status=Status.QUEUED).exists(), timeout=20,
                 message="the scheduler's relay")
        start_worker()
        wait_for(lambda: JobRecord.objects.filter(pk=pending.pk, status=Status.SUCCEEDED).exists(), timeout=20)
    finally:
        scheduler.terminate()
        scheduler.wait(10)


def test_the_scheduler_rides_out_a_redis_restart(private_redis, start_worker, tmp_path):
    log = open(tmp_path / "scheduler.log", "wb")
    scheduler = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", "jdtest.default"],
        cwd=BASE_DIR, env=service_env(JOBS_SYSTEM_INTERVAL=1), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        record = enqueue("test.sleep", {"marker": "wiped", "seconds": 0})
        private_redis.stop()
        time.sleep(3)
        private_redis.start()  # empty: the queued job's RQ side is gone
        assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()
        # The reconciler (still ticking) sends the job again; a worker then runs it.
        start_worker()
        wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=40,
                 message="the job the restart lost to run")
        assert scheduler.poll() is None
    finally:
        scheduler.terminate()
        scheduler.wait(10)
        log.close()


def test_the_scheduler_stops_on_sigterm_while_redis_is_away(private_redis, tmp_path):
    """Stopping it must not wait for Redis: its stop handler's own Redis write failed and was taken for
    "Redis is down", so it started again (or died with a traceback) instead of stopping."""
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "wb") as log:
        scheduler = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", "jdtest.default"],
            cwd=BASE_DIR, env=service_env(JOBS_SYSTEM_INTERVAL=1), stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: b"Registering birth" in log_path.read_bytes() or scheduler.poll() is not None,
                     timeout=30, message="the scheduler to start")
            private_redis.stop()
            time.sleep(2)  # it notices: "Redis unavailable, starting again in …"
            scheduler.terminate()
            assert scheduler.wait(10) == 0
        finally:
            if scheduler.poll() is None:
                scheduler.kill()
                scheduler.wait(10)
    output = log_path.read_text()
    assert "Shutting down RQ scheduler" in output and "Traceback" not in output, output[-3000:]
