"""A worker killed mid-job (SIGKILL of worker and child) does not lose the job: the reconciler records the
attempt as lost and the job runs again."""

from datetime import timedelta

import pytest

from jobs.models import JobRecord, Outcome, Status
from jobs.enqueue import enqueue
from jobs.reconciler import reconcile
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SHORT_HEARTBEAT = {"QUEUE_JOB_HEARTBEAT": 1, "QUEUE_HEARTBEAT_GRACE": 2}


def test_sigkilled_worker_job_is_retried_by_the_reconciler(start_worker, clean_redis):
    record = enqueue("test.sleep", {"marker": "crash", "seconds": 3})
    doomed = start_worker(env=SHORT_HEARTBEAT)
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.RUNNING).exists(), timeout=20)
    wait_for(lambda: clean_redis.llen("test-runs:crash") == 1, timeout=5)

    doomed.kill_group()
    assert doomed.proc.poll() is not None

    assert reconcile(running_grace=timedelta(0))["lost"] == 0, "the heartbeat has not expired yet"
    # Within heartbeat + grace (3 s) the job is known lost; no 90 s wait as with plain RQ.
    wait_for(lambda: reconcile(running_grace=timedelta(0))["lost"] == 1, timeout=10, interval=0.5)

    lost = JobRecord.objects.get(pk=record.pk)
    assert lost.status == Status.RETRYING
    attempt = lost.attempt_set.get(number=1)
    assert attempt.outcome == Outcome.LOST and attempt.ended_at is not None
    assert lost.last_error_type == "LostWorker"

    start_worker(env=SHORT_HEARTBEAT)
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=30)
    assert done.attempts == 2
    assert [a.outcome for a in done.attempt_set.order_by("number")] == [Outcome.LOST, Outcome.SUCCEEDED]
    assert clean_redis.llen("test-runs:crash") == 2
    assert reconcile(running_grace=timedelta(0)) == {"lost": 0, "requeued": 0}


def test_queued_job_lost_by_redis_is_sent_again(clean_redis, start_worker):
    record = enqueue("test.sleep", {"marker": "flushed", "seconds": 0})
    clean_redis.flushdb()  # Redis restarted without its data

    assert reconcile(waiting_grace=timedelta(0)) == {"lost": 0, "requeued": 1}
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
    assert clean_redis.exists(f"rq:job:{record.rq_id}"), "sent again in the same pass"
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=20)
    assert clean_redis.llen("test-runs:flushed") == 1
