"""``manage.py rqscheduler`` runs the relay and the reconciler on its own, every few seconds."""

import subprocess
import sys

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
