"""A job removed from the ledger, by retention or by a staff delete, leaves nothing of itself in Redis:
also not RQ 2's results stream (``rq:results:<job id>``), which RQ keeps for a day after a failure."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rq.results import Result

from jobs import retention, rq_internals, services
from jobs.connection import redis_connection
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def rules(settings):
    settings.JOBS_KEEP_DEAD_DAYS = 30
    settings.JOBS_KEEP_FAILED = 0


def dead_jobs(n, start_worker):
    """``n`` jobs that died on their first attempt through a real worker, each with its RQ results."""
    records = [enqueue("test.permanent", {"marker": f"gone-{i}"}) for i in range(n)]
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(status=Status.DEAD).count() == n, timeout=30, message="the jobs to die")
    conn = redis_connection()
    for record in records:
        # RQ writes the stream after the ledger's end: wait for it, the premise of these tests.
        wait_for(lambda key=Result.get_key(str(record.pk)): conn.exists(key), message=f"RQ's results of {record.pk}")
    return records


def left_in_redis(record):
    """What Redis still holds of ``record``: its results stream, job hash, executions, failed entry."""
    conn, job_id = redis_connection(), str(record.pk)
    keys = {key for key in (Result.get_key(job_id), rq_internals.job_key(job_id), rq_internals.executions_key(job_id))
            if conn.exists(key)}
    if conn.zscore(rq_internals.failed_key(record.queue), job_id) is not None:
        keys.add(rq_internals.failed_key(record.queue))
    return keys


def test_a_staff_delete_removes_the_results_stream(start_worker, staff_user):
    (record,) = dead_jobs(1, start_worker)

    assert services.delete_jobs(JobRecord.objects.filter(pk=record.pk), actor=staff_user) == 1

    assert left_in_redis(record) == set()


def test_retention_removes_the_results_stream_with_or_without_rq_s_job_hash(start_worker, clean_redis):
    with_hash, without_hash = dead_jobs(2, start_worker)
    clean_redis.delete(rq_internals.job_key(without_hash.pk))  # RQ's hash expired before its results

    report = retention.prune(now=timezone.now() + timedelta(days=31))

    assert report["by_status"] == {"dead": 2}
    assert left_in_redis(with_hash) == set() and left_in_redis(without_hash) == set()
