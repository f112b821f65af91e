"""The persistent worker (``jobs.worker.PersistentWorker``) runs jobs in one long-lived work process, not a
fork per job: successive jobs share its pid; it is replaced after ``QUEUE_WORKER_MAX_JOBS`` jobs, and at
once after it dies mid-job (the job retried as declared); a cancel stops the running job; a job past its
timeout is stopped inside the process (which lives on) or, deaf to that, by the worker killing it; a long job's
heartbeats stay fresh; a burst worker drains its queue across work processes; the work process dies with its worker."""

import os
import signal
import time

import pytest

from jobs import services
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Outcome, Status
from jobs.reconciler import reconcile
from jobs.supervisor import descendants
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PERSISTENT = "jobs.worker.PersistentWorker"


def ended(record, timeout=30):
    return wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status__in=[Status.SUCCEEDED, Status.DEAD,
                                                                                Status.CANCELED]).first(),
                    timeout=timeout, message=f"job {record.pk} to end")


def pids(records):
    return [ended(r).result["pid"] for r in records]


def test_jobs_share_one_work_process_replaced_after_max_jobs(start_worker):
    worker = start_worker(worker_class=PERSISTENT, env={"QUEUE_WORKER_MAX_JOBS": 3})
    records = []
    for i in range(7):  # one at a time: each job ends before the next is enqueued
        records.append(enqueue("test.whoami", {"marker": "reuse"}))
        ended(records[-1])
    seen = pids(records)
    assert worker.proc.pid not in seen, "the jobs ran in a work process, not in the worker itself"
    assert seen[0:3] == [seen[0]] * 3 and seen[3:6] == [seen[3]] * 3 and len(set(seen)) == 3, seen
    assert all(JobRecord.objects.get(pk=r.pk).attempts == 1 for r in records)


def test_memory_recycling_replaces_the_work_process_after_each_job_over_the_limit(start_worker):
    start_worker(worker_class=PERSISTENT, env={"QUEUE_WORKER_MAX_MEMORY_MB": 1})  # any process is over 1 MB
    records = []
    for i in range(3):
        records.append(enqueue("test.whoami", {"marker": "memory"}))
        ended(records[-1])
    assert len(set(pids(records))) == 3
    assert {JobRecord.objects.get(pk=r.pk).status for r in records} == {Status.SUCCEEDED}


@pytest.mark.parametrize("how", ["exit", "segfault"])
def test_a_work_process_that_dies_mid_job_is_replaced_and_the_job_retried(start_worker, how):
    start_worker(worker_class=PERSISTENT)
    before = enqueue("test.whoami", {"marker": "before"})
    first_pid = pids([before])[0]
    crashed = enqueue("test.whoami", {"marker": "crash", how: True})
    # RQ fails the job when its process dies; the reconciler finds the running record lost and retries
    # it (its second attempt dies the same way: then it is dead, max_attempts=2).
    def settled():
        reconcile(running_grace=__import__("datetime").timedelta(0))
        return JobRecord.objects.filter(pk=crashed.pk, status=Status.DEAD).first()

    record = wait_for(settled, timeout=40, interval=0.5, message="the crashing job dead after its two attempts")
    assert record.attempts == 2
    assert set(record.attempt_set.values_list("outcome", flat=True)) == {Outcome.LOST}
    after = enqueue("test.whoami", {"marker": "after"})
    assert pids([after])[0] != first_pid, "a new work process took over"


def test_a_cancel_stops_the_running_job_and_the_next_one_runs(start_worker, clean_redis):
    start_worker(worker_class=PERSISTENT)
    running = enqueue("test.whoami", {"marker": "long", "seconds": 30})
    wait_for(lambda: JobRecord.objects.filter(pk=running.pk, status=Status.RUNNING).exists(), timeout=20)
    started = time.monotonic()
    assert services.cancel_job(JobRecord.objects.get(pk=running.pk), reason="test")
    assert ended(running, timeout=15).status == Status.CANCELED
    nxt = enqueue("test.whoami", {"marker": "next"})
    assert ended(nxt).status == Status.SUCCEEDED
    assert time.monotonic() - started < 20, "the cancel did not wait for the 30 s job"


def test_a_timeout_is_recorded_and_the_process_lives_on(start_worker):
    start_worker(worker_class=PERSISTENT)
    slow = enqueue("test.whoami", {"marker": "slow", "seconds": 10}, timeout=1, max_attempts=1)
    record = ended(slow)
    assert record.status == Status.DEAD and record.attempt_set.get().outcome == Outcome.TIMEOUT
    a, b = enqueue("test.whoami", {"marker": "a"}), enqueue("test.whoami", {"marker": "b"})
    assert len(set(pids([a, b]))) == 1


def test_the_worker_leaves_no_work_process_behind(start_worker):
    worker = start_worker(worker_class=PERSISTENT)
    record = enqueue("test.whoami", {"marker": "one"})
    pid = pids([record])[0]
    os.kill(worker.proc.pid, signal.SIGTERM)
    worker.proc.wait(20)

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie until its parent (the worker, now gone) is reaped by init
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] == "Z"

    wait_for(gone, timeout=10, message="the work process to end with its worker")


def test_a_job_deaf_to_its_timeout_is_stopped_by_the_worker_and_recorded_timed_out(start_worker):
    start_worker(worker_class=PERSISTENT, env={"QUEUE_TIMEOUT_GRACE": 1})
    stuck = enqueue("test.whoami", {"marker": "deaf", "seconds": 30, "deaf": True}, timeout=1, max_attempts=1)
    started = time.monotonic()
    record = ended(stuck, timeout=20)
    assert time.monotonic() - started < 15, "the worker waited RQ's 60 s instead of its grace"
    assert record.status == Status.DEAD, record.status
    attempt = record.attempt_set.get()
    assert (attempt.outcome, attempt.error_type) == (Outcome.TIMEOUT, "JobTimeoutException"), attempt.error_message
    nxt = enqueue("test.whoami", {"marker": "next"})
    assert ended(nxt).status == Status.SUCCEEDED


def test_a_job_stopped_past_its_timeout_waits_its_backoff_before_the_next_attempt(start_worker):
    """A timeout is the job's own doing, however it was stopped: the retry waits the declared backoff, as
    after a timeout the job noticed itself (it was retried at once, like a crash)."""
    worker = start_worker(worker_class=PERSISTENT, env={"QUEUE_TIMEOUT_GRACE": 1})
    stuck = enqueue("test.whoami", {"marker": "deaf-twice", "seconds": 30, "deaf": True}, timeout=1, max_attempts=2,
                    backoff=4)
    record = ended(stuck, timeout=40)
    first, second = record.attempt_set.order_by("number")
    assert (first.outcome, second.outcome) == (Outcome.TIMEOUT, Outcome.TIMEOUT), first.error_message
    waited = (second.started_at - first.ended_at).total_seconds()
    assert waited >= 3.9, f"the retry started {waited:.2f}s after the timeout, not after its 4 s backoff"
    # killed on purpose and said so once ("overran its 1s timeout"), not as a crash
    assert "Work-horse terminated unexpectedly" not in worker.output()
    assert "Work horse killed" not in worker.output()
    assert worker.output().count(f"job {record.pk} overran its 1s timeout") == 2


def test_a_job_longer_than_its_heartbeat_is_not_taken_for_lost(start_worker):
    # Heartbeats live 2 s here; the work process never sends one while its job runs: the worker does.
    start_worker(worker_class=PERSISTENT, env={"QUEUE_JOB_HEARTBEAT": 1, "QUEUE_HEARTBEAT_GRACE": 1})
    long = enqueue("test.whoami", {"marker": "long-beat", "seconds": 5})
    wait_for(lambda: JobRecord.objects.filter(pk=long.pk, status=Status.RUNNING).exists(), timeout=20)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        assert reconcile(running_grace=__import__("datetime").timedelta(0))["lost"] == 0
        time.sleep(0.5)
    record = ended(long)
    assert (record.status, record.attempts) == (Status.SUCCEEDED, 1)


def test_a_burst_worker_drains_the_queue_across_work_processes_and_exits(start_worker):
    records = [enqueue("test.whoami", {"marker": f"burst{i}"}) for i in range(5)]
    worker = start_worker("jdtest.default", worker_class=PERSISTENT, burst=True, env={"QUEUE_WORKER_MAX_JOBS": 2})
    assert worker.wait(60) == 0
    assert {JobRecord.objects.get(pk=r.pk).status for r in records} == {Status.SUCCEEDED}
    assert len(set(pids(records))) == 3


def test_a_worker_killed_alone_takes_its_work_process_and_scheduler_with_it(start_worker):
    worker = start_worker(worker_class=PERSISTENT)  # with RQ's scheduler (start_worker's default)
    pid = pids([enqueue("test.whoami", {"marker": "orphan"})])[0]
    children = descendants(worker.proc.pid)
    assert pid in children and len(children) >= 2, children  # the work process and the scheduler
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(10)

    def gone(child):
        try:
            with open(f"/proc/{child}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    wait_for(lambda: all(gone(child) for child in children), timeout=10,
             message="the work process and the scheduler to die with their worker")
