"""A failing job is retried with its type's backoff; each attempt is kept."""

import pytest

from jobs.connection import get_queue
from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Outcome, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_job_failing_twice_then_succeeding_keeps_three_attempts_with_growing_delays(start_worker):
    record = enqueue("test.flaky", {"marker": "flaky", "fail_times": 2})
    start_worker()
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=30,
                    message="the flaky job to succeed")

    attempts = list(JobAttempt.objects.filter(record=record).order_by("number"))
    assert [a.outcome for a in attempts] == [Outcome.FAILED, Outcome.FAILED, Outcome.SUCCEEDED]
    assert [a.error_type for a in attempts[:2]] == ["ConnectionError", "ConnectionError"]
    assert "peer refused (attempt 1)" in attempts[0].error_message
    assert "Traceback" in attempts[0].traceback
    assert [a.retry_delay for a in attempts[:2]] == [1, 2], "exponential: 1 s, then 2 s"
    waits = [(attempts[i + 1].started_at - attempts[i].ended_at).total_seconds() for i in range(2)]
    assert waits[0] >= 0.9 and waits[1] >= 1.9, waits
    assert waits[1] > waits[0], waits
    assert done.attempts == 3 and done.result == {"attempt": 3}
    assert done.progress == 100 and done.succeeded_at is not None


def test_a_timed_out_attempt_is_recorded_as_timeout(start_worker, clean_redis):
    record = enqueue("test.too_slow", {"marker": "slow", "seconds": 5})
    start_worker()
    dead = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).first(), timeout=30)
    attempt = dead.attempt_set.get()
    assert attempt.outcome == Outcome.TIMEOUT
    assert "JobTimeoutException" in attempt.error_type
    assert (attempt.ended_at - attempt.started_at).total_seconds() < 4
    failed = get_queue(record.queue).failed_job_registry
    wait_for(lambda: str(record.pk) in failed.get_job_ids(), timeout=5, message="RQ's failed registry")
