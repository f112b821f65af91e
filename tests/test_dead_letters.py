"""Jobs that cannot succeed end ``dead``: after their last attempt, or at once for a non-retryable error."""

import pytest

from jobs.connection import get_queue
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Outcome, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_exhausted_attempts_make_a_job_dead(start_worker, clean_redis):
    record = enqueue("test.always_fails", {"marker": "exhausted"})
    start_worker()
    dead = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).first(), timeout=30)
    assert dead.attempts == dead.max_attempts == 3
    assert list(dead.attempt_set.values_list("outcome", flat=True)) == [Outcome.FAILED] * 3
    assert dead.last_error_type == "ValueError" and dead.last_error == "this job never works"
    assert dead.dead_at is not None and dead.succeeded_at is None
    assert clean_redis.llen("test-runs:exhausted") == 3
    # RQ agrees: the job is in its failed registry, so django-rq's views show it too. RQ files it just after
    # the ledger's commit, in the same worker, so it may take a moment.
    failed = get_queue(record.queue).failed_job_registry
    wait_for(lambda: str(record.pk) in failed.get_job_ids(), timeout=5, message="RQ's failed registry")


def test_a_non_retryable_error_is_dead_after_one_attempt(start_worker, clean_redis):
    record = enqueue("test.permanent", {"marker": "permanent"})
    start_worker()
    dead = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).first(), timeout=30)
    assert dead.attempts == 1 and dead.max_attempts == 5
    assert dead.last_error_type == "jobs.errors.PermanentError"
    assert dead.attempt_set.get().outcome == Outcome.FAILED
    assert clean_redis.llen("test-runs:permanent") == 1
