"""Staff cancel waiting and running jobs, and retry finished ones, through jobs.services."""

import pytest

from audit.models import AuditEvent
from jobs import services
from jobs.connection import get_queue
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Outcome, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_canceled_queued_job_never_runs(start_worker, clean_redis, staff_user):
    record = enqueue("test.sleep", {"marker": "cancel-me", "seconds": 0})
    assert services.cancel_job(record, actor=staff_user)
    assert get_queue(record.queue).count == 0
    other = enqueue("test.sleep", {"marker": "other", "seconds": 0})
    start_worker(burst=True).wait(60)
    assert JobRecord.objects.get(pk=record.pk).status == Status.CANCELED
    assert JobRecord.objects.get(pk=other.pk).status == Status.SUCCEEDED
    assert clean_redis.llen("test-runs:cancel-me") == 0
    event = AuditEvent.objects.get(resource_id=str(record.pk), action="job.canceled")
    assert event.actor == staff_user
    assert not services.cancel_job(record, actor=staff_user), "a second cancel is skipped"


def test_a_running_job_is_stopped(start_worker, staff_user):
    record = enqueue("test.sleep", {"marker": "long", "seconds": 30})
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.RUNNING).exists(), timeout=20)
    record.refresh_from_db()
    assert services.cancel_job(record, actor=staff_user)
    # The work horse is killed through RQ's stop command: RQ files the job as stopped.
    job = get_queue(record.queue).fetch_job(str(record.pk))
    wait_for(lambda: job.get_status(refresh=True) == "stopped", timeout=10)
    canceled = JobRecord.objects.get(pk=record.pk)
    assert canceled.status == Status.CANCELED and canceled.canceled_at
    assert canceled.attempt_set.get().outcome == Outcome.CANCELED


def test_retrying_a_dead_job_runs_it_again_on_the_same_record(start_worker, clean_redis, staff_user):
    record = enqueue("test.flaky", {"marker": "revive", "fail_times": 1})
    JobRecord.objects.filter(pk=record.pk).update(max_attempts=1)
    worker = start_worker()
    dead = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).first(), timeout=20)
    failed = get_queue(record.queue).failed_job_registry
    wait_for(lambda: str(record.pk) in failed.get_job_ids(), timeout=5, message="RQ's failed registry")

    assert services.retry_job(dead, actor=staff_user)
    assert str(record.pk) not in get_queue(record.queue).failed_job_registry.get_job_ids()
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=20)
    assert done.attempts == 2 and done.dead_at is None
    assert AuditEvent.objects.get(resource_id=str(record.pk), action="job.queued").actor == staff_user
    worker.stop()


def test_retry_is_refused_for_a_job_that_has_not_finished(staff_user):
    record = enqueue("test.sleep", {"marker": "waiting", "seconds": 0})
    assert not services.retry_job(record, actor=staff_user)
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
