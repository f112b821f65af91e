"""A queued job that RQ holds nowhere it would run it from is sent again within seconds: the reconciler
judges from the ledger and reads RQ's lists itself, never waiting on RQ's own maintenance (which, after a
crash at these instants, leaves such a job for a day or for ever)."""

import time
from datetime import timedelta

import pytest

from jobs import rq_internals
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.reconciler import reconcile
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

NOW = timedelta(0)


def _runs(conn, marker):
    return conn.llen(f"test-runs:{marker}")


def _succeeded(record):
    return JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first()


def test_a_job_taken_by_a_worker_that_died_before_starting_it_runs(start_worker, clean_redis):
    record = enqueue("test.sleep", {"marker": "taken", "seconds": 0})
    doomed = start_worker(worker_class="tests.crash_workers.DiesAfterTakingAJob")
    doomed.wait(timeout=20)
    # Popped (BLPOP, the worker listens to several queues): in no RQ list at all, the ledger says queued.
    assert not clean_redis.lrange(rq_internals.queue_key(record.queue), 0, -1)
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED

    assert reconcile(waiting_grace=NOW) == {"lost": 0, "requeued": 1}
    start_worker()
    done = wait_for(lambda: _succeeded(record), timeout=20)
    assert done.attempts == 1 and _runs(clean_redis, "taken") == 1


def test_a_job_a_worker_on_one_queue_took_and_never_started_runs(start_worker, clean_redis):
    record = enqueue("test.sleep", {"marker": "moved", "seconds": 0})
    doomed = start_worker(record.queue, worker_class="tests.crash_workers.DiesAfterTakingAJob")
    doomed.wait(timeout=20)
    # One queue: RQ moves the job to its intermediate list (BLMOVE); its own clean-up waits a minute.
    assert clean_redis.lrange(rq_internals.intermediate_key(record.queue), 0, -1) == [record.rq_id.encode()]

    assert reconcile(waiting_grace=NOW)["requeued"] == 1
    assert not clean_redis.lrange(rq_internals.intermediate_key(record.queue), 0, -1)
    start_worker()
    assert wait_for(lambda: _succeeded(record), timeout=20).attempts == 1
    assert _runs(clean_redis, "moved") == 1


def test_a_job_rq_filed_as_failed_without_an_attempt_runs(start_worker, clean_redis):
    record = enqueue("test.sleep", {"marker": "filed", "seconds": 0})
    doomed = start_worker(worker_class="tests.crash_workers.HorseDiesBeforeTheClaim")
    wait_for(lambda: clean_redis.zscore(rq_internals.failed_key(record.queue), record.rq_id), timeout=20,
             message="RQ files the job as failed")
    doomed.stop()
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED

    assert reconcile(waiting_grace=NOW)["requeued"] == 1
    assert clean_redis.zscore(rq_internals.failed_key(record.queue), record.rq_id) is None
    start_worker()
    done = wait_for(lambda: _succeeded(record), timeout=20)
    assert done.attempts == 1 and _runs(clean_redis, "filed") == 1


def test_a_job_marked_started_by_a_worker_that_is_gone_runs(start_worker, clean_redis):
    record = enqueue("test.sleep", {"marker": "ghost", "seconds": 0})
    # What a worker leaves when it is killed after marking the job started, before the runner's claim.
    queue = record.queue
    clean_redis.lrem(rq_internals.queue_key(queue), 0, record.rq_id)
    clean_redis.hset(rq_internals.job_key(record.rq_id), mapping={"status": "started", "worker_name": "ghost"})
    clean_redis.zadd(rq_internals.wip_key(queue), {f"{record.rq_id}:exec1": time.time() - 5})

    assert reconcile(waiting_grace=NOW)["requeued"] == 1
    assert not clean_redis.zrange(rq_internals.wip_key(queue), 0, -1)
    start_worker()
    assert wait_for(lambda: _succeeded(record), timeout=20).attempts == 1


def test_a_scheduled_job_long_overdue_is_queued_without_rq_scheduler(start_worker, clean_redis):
    record = enqueue("test.sleep", {"marker": "late", "seconds": 0}, delay=1)
    # RQ's scheduler lock is held by a worker that died: nothing moves the job on.
    clean_redis.zadd(rq_internals.scheduled_key(record.queue), {record.rq_id: time.time() - 60})

    assert reconcile(waiting_grace=NOW)["requeued"] == 1
    start_worker("jdtest.default", burst=True).wait(20)
    assert _succeeded(record) and _runs(clean_redis, "late") == 1


def test_jobs_waiting_where_they_should_are_left_alone(clean_redis):
    waiting = enqueue("test.sleep", {"marker": "w", "seconds": 0})
    later = enqueue("test.sleep", {"marker": "l", "seconds": 0}, delay=3600)

    assert reconcile(waiting_grace=NOW) == {"lost": 0, "requeued": 0}
    assert clean_redis.lrange(rq_internals.queue_key(waiting.queue), 0, -1) == [waiting.rq_id.encode()]
    assert clean_redis.zscore(rq_internals.scheduled_key(later.queue), later.rq_id) is not None
    assert set(JobRecord.objects.values_list("status", flat=True)) == {Status.QUEUED}
