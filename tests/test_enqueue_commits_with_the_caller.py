"""A job is written in the caller's transaction and reaches Redis only when that transaction commits."""

import pytest
from django.db import transaction

from jobs.connection import get_queue
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class Boom(Exception):
    pass


def test_rolled_back_transaction_runs_no_job(start_worker, clean_redis):
    with pytest.raises(Boom), transaction.atomic():
        record = enqueue("test.sleep", {"marker": "rolled-back", "seconds": 0})
        assert get_queue(record.queue).count == 0, "nothing reaches Redis before commit"
        raise Boom

    assert not JobRecord.objects.exists()
    assert get_queue(record.queue).count == 0
    # A job committed after it runs, so a worker that ran everything would have run the first one too.
    committed = enqueue("test.sleep", {"marker": "committed", "seconds": 0})
    worker = start_worker(burst=True)
    worker.wait(60)
    assert JobRecord.objects.get(pk=committed.pk).status == Status.SUCCEEDED
    assert clean_redis.llen("test-runs:rolled-back") == 0
    assert clean_redis.llen("test-runs:committed") == 1


def test_enqueue_returns_the_record_and_dispatches_on_commit(clean_redis):
    with transaction.atomic():
        record = enqueue("test.sleep", {"marker": "m", "seconds": 0}, priority="high")
        assert record.status == Status.QUEUED
        queue = get_queue(record.queue)
        assert queue.count == 0
    assert record.queue.endswith(".default.high")
    assert queue.get_job_ids() == [str(record.pk)], "the RQ job id is the record id"
    job = queue.fetch_job(str(record.pk))
    assert job.func_name == "jobs.runner.run_job" and job.args == [str(record.pk)]


def test_delayed_job_waits_in_the_scheduled_registry(start_worker):
    record = enqueue("test.sleep", {"marker": "delayed", "seconds": 0}, delay=2)
    queue = get_queue(record.queue)
    assert queue.count == 0
    assert str(record.pk) in queue.scheduled_job_registry.get_job_ids()
    start_worker()
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=20)
    assert (done.started_at - record.created_at).total_seconds() >= 1.9
