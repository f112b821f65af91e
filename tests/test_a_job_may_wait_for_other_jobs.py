"""A job that handed its work to other jobs (a fan-out's parent) waits for them without holding a worker
and without using up its attempts, and is woken when they end; should nobody wake it, it looks for itself
at its check-back. A job whose work was called off ends canceled, not dead and not retried. Real worker."""

import pytest
from django.db import transaction

from jobs import services
from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def in_status(record, status, timeout=20):
    return wait_for(lambda: (lambda r: r if r.status == status else None)(JobRecord.objects.get(pk=record.pk)),
                    timeout=timeout, interval=0.1, message=f"job {record.pk} to be {status}")


def test_a_waiting_job_is_woken_and_its_wait_costs_no_attempt(start_worker, clean_redis):
    start_worker()
    record = enqueue("test.waits_once", {"marker": "woken", "seconds": 3600})
    waiting = in_status(record, Status.RETRYING)
    assert waiting.status_note["reason"] == "waiting for woken"
    assert waiting.max_attempts == 2, "the wait is given back to its budget of one attempt"
    assert JobAttempt.objects.get(record=record, number=1).outcome == "succeeded"
    with transaction.atomic():
        assert services.wake_job(record.pk)
    done = in_status(record, Status.SUCCEEDED)
    assert done.result == "done waiting" and done.attempts == 2
    assert clean_redis.llen("test-runs:woken") == 2
    assert not services.wake_job(record.pk), "a job that is not waiting is not woken"


def test_a_waiting_job_nobody_wakes_runs_at_its_check_back(start_worker):
    start_worker()
    record = enqueue("test.waits_once", {"marker": "check-back", "seconds": 2})
    in_status(record, Status.RETRYING)
    assert in_status(record, Status.SUCCEEDED, timeout=30).attempts == 2


def test_a_job_that_calls_itself_off_ends_canceled(start_worker, clean_redis):
    start_worker()
    record = enqueue("test.cancels_itself", {"marker": "off"})
    canceled = in_status(record, Status.CANCELED)
    assert canceled.status_note["reason"] == "called off: off" and canceled.last_error == "called off: off"
    assert canceled.attempts == 1 and canceled.dead_at is None and canceled.canceled_at is not None
    assert JobAttempt.objects.get(record=record).outcome == "canceled"
    assert clean_redis.llen("test-runs:off") == 1, "not retried"
