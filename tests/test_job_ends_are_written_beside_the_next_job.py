"""The default worker writes a succeeded job's end with the next job's claim and acknowledges it to RQ
then (``jobs.finish_group``; ``QUEUE_FINISH_GROUP``, on by default), or in line when it is off. What
users rely on, both ways: every job of a run of short jobs ends succeeded once, with one attempt, and RQ
is left clean (nothing in its started or failed registries, no job hash left, the worker's count right);
a job that crashes its work process does not cost the job before it its outcome; ends still unwritten
when a work process retires, or a burst worker runs dry, are written first."""

import datetime

import pytest
from django.db import transaction
from rq import Worker as RQWorker
from rq.registry import FailedJobRegistry, StartedJobRegistry

from jobs.connection import get_queue, queue_name, redis_connection
from jobs.rq_internals import job_key
from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobAttempt, JobRecord, Outcome, Status
from jobs.reconciler import reconcile
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "jdtest.default"
both_ways = pytest.mark.parametrize("env", [{}, {"QUEUE_FINISH_GROUP": "false"}],
                                    ids=["finish group (default)", "ends in line"])


def all_succeeded(records, timeout=60):
    ids = [r.pk for r in records]
    wait_for(lambda: JobRecord.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == len(ids),
             timeout=timeout, message=f"{len(ids)} jobs to succeed")


@both_ways
def test_a_run_of_short_jobs_ends_each_once_and_leaves_rq_clean(start_worker, clean_redis, env):
    records = enqueue_many("test.whoami", [{"marker": f"short{i}"} for i in range(150)])
    start_worker(QUEUE, env=env)  # the default worker class
    all_succeeded(records)

    ids = [r.pk for r in records]
    assert set(JobRecord.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    assert JobAttempt.objects.filter(record_id__in=ids, outcome=Outcome.SUCCEEDED).count() == 150
    assert not JobAttempt.objects.filter(record_id__in=ids).exclude(outcome=Outcome.SUCCEEDED).exists()

    conn = redis_connection()
    queue = get_queue(queue_name("default"))

    def acknowledged():  # the last ends are acknowledged a moment after they are written
        workers = RQWorker.all(connection=conn)
        return (StartedJobRegistry(queue=queue).count == 0 and len(workers) == 1
                and workers[0].successful_job_count == 150 and not any(conn.exists(job_key(str(pk))) for pk in ids))

    wait_for(acknowledged, timeout=10, message="every job acknowledged to RQ")
    assert FailedJobRegistry(queue=queue).count == 0
    assert RQWorker.all(connection=conn)[0].get_current_job_id() is None, "an idle worker holds no job"


@both_ways
def test_a_job_that_crashes_its_process_does_not_cost_the_job_before_it(start_worker, clean_redis, env):
    with transaction.atomic():  # queued together: the crash comes right after the first job's end
        before = enqueue("test.whoami", {"marker": "before"})
        crashing = enqueue("test.whoami", {"marker": "crash", "exit": True})
    start_worker(QUEUE, env=env)

    def crashed_job_settled():
        reconcile(running_grace=datetime.timedelta(0))
        return JobRecord.objects.filter(pk=crashing.pk, status=Status.DEAD).first()

    wait_for(crashed_job_settled, timeout=40, interval=0.5, message="the crashing job dead after its attempts")
    record = JobRecord.objects.get(pk=before.pk)
    assert record.status == Status.SUCCEEDED and record.attempts == 1
    assert list(record.attempt_set.values_list("outcome", flat=True)) == [Outcome.SUCCEEDED]


@both_ways
def test_ends_are_written_before_a_work_process_retires_and_before_a_burst_worker_exits(start_worker, clean_redis,
                                                                                         env):
    records = enqueue_many("test.whoami", [{"marker": f"retire{i}"} for i in range(9)])
    worker = start_worker(QUEUE, burst=True, env={"QUEUE_WORKER_MAX_JOBS": 4, **env})
    assert worker.wait(60) == 0

    found = {r.pk: r for r in JobRecord.objects.filter(pk__in=[r.pk for r in records])}
    assert {r.status for r in found.values()} == {Status.SUCCEEDED}, "nothing left running when the worker exited"
    assert {r.attempts for r in found.values()} == {1}
    assert len({r.result["pid"] for r in found.values()}) == 3  # 4 + 4 + 1 jobs: three work processes
