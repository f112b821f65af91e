"""A batch's callback runs exactly once, when every member has ended, told from the ledger which members
succeeded, died or were canceled: with real workers, when a worker is killed during the last member, when
a process died before its completion check (the reconciler completes the batch), and when many processes
check at once. Bad input is refused naming the field, and nothing is written."""

import json
import threading
from datetime import timedelta

import pytest

from jobs import batches
from jobs.enqueue import enqueue_batch
from jobs.errors import JobError
from jobs.models import JobBatch, JobRecord, Status
from jobs.reconciler import reconcile
from jobs.selectors import job_as_dict
from tests.conftest import OPERATORS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SHORT_HEARTBEAT = {"QUEUE_JOB_HEARTBEAT": 1, "QUEUE_HEARTBEAT_GRACE": 2}


def calls(redis, marker):
    return [json.loads(item) for item in redis.lrange(f"test-batch-done:{marker}", 0, -1)]


def ids(records):
    return sorted(str(record.pk) for record in records)


def wait_for_callback(batch_id, timeout=30):
    def done():
        batch = JobBatch.objects.get(pk=batch_id)
        return batch.callback_id and JobRecord.objects.filter(pk=batch.callback_id, status=Status.SUCCEEDED).exists()

    wait_for(done, timeout=timeout, interval=0.1, message="the batch's callback to succeed")
    return JobBatch.objects.get(pk=batch_id)


def test_a_batch_of_50_with_3_failing_members_runs_its_callback_once(start_worker, clean_redis):
    jobs = [("test.sleep", {"marker": "member", "seconds": 0}) for _ in range(47)]
    for i in (5, 20, 40):
        jobs.insert(i, {"job_type": "test.always_fails", "payload": {"marker": "failing"}})
    batch = enqueue_batch(jobs, on_complete=("test.batch_done", {"marker": "fifty"}))
    members = list(batch.members.all())
    assert len(members) == batch.total == 50
    assert job_as_dict(members[0])["batch_id"] == batch.pk, "a caller asking for a member's status sees its batch"
    start_worker(), start_worker()  # two workers: the last members can end at the same moment

    batch = wait_for_callback(batch.pk)
    assert batch.completed_at is not None
    assert [row["record"] for row in calls(clean_redis, "fifty")] == [str(batch.callback_id)]
    told = calls(clean_redis, "fifty")[0]
    assert told["batch"] == batch.pk and told["total"] == 50
    assert sorted(told["dead"]) == ids(m for m in members if m.job_type == "test.always_fails")
    assert sorted(told["succeeded"]) == ids(m for m in members if m.job_type == "test.sleep")
    assert told["canceled"] == []
    # Every failing member used its three attempts before it was dead: the callback came after the last.
    assert JobRecord.objects.filter(batch=batch, status=Status.DEAD, attempts=3).count() == 3
    callback = JobRecord.objects.get(pk=batch.callback_id)
    assert callback.correlation_id == batch.correlation_id and callback.parent_id is None
    assert callback.created_at >= max(JobRecord.objects.filter(batch=batch).values_list("status_changed_at", flat=True))

    assert reconcile(running_grace=timedelta(0)) == {"lost": 0, "requeued": 0}
    assert JobRecord.objects.filter(job_type="test.batch_done").count() == 1
    assert len(calls(clean_redis, "fifty")) == 1


def test_a_worker_killed_during_the_last_member_still_gets_one_callback(start_worker, clean_redis):
    jobs = [("test.sleep", {"marker": "quick", "seconds": 0}) for _ in range(8)]
    jobs.append(("test.permanent", {"marker": "gone"}))
    jobs.append(("test.sleep", {"marker": "last", "seconds": 3}))
    batch = enqueue_batch(jobs, on_complete=("test.batch_done", {"marker": "crash"}))
    members = list(batch.members.all())
    doomed = start_worker(env=SHORT_HEARTBEAT)
    wait_for(lambda: clean_redis.llen("test-runs:last") == 1, timeout=20, message="the last member to start")
    assert JobRecord.objects.filter(batch=batch).exclude(status__in=[Status.SUCCEEDED, Status.DEAD]).count() == 1

    doomed.kill_group()
    assert JobBatch.objects.get(pk=batch.pk).completed_at is None
    wait_for(lambda: reconcile(running_grace=timedelta(0))["lost"] == 1, timeout=10, interval=0.5,
             message="the reconciler to find the lost member")
    assert JobBatch.objects.get(pk=batch.pk).completed_at is None, "a lost member has not ended: it runs again"

    start_worker(env=SHORT_HEARTBEAT)
    batch = wait_for_callback(batch.pk)
    assert clean_redis.llen("test-runs:last") == 2
    told = calls(clean_redis, "crash")
    assert len(told) == 1
    assert told[0]["dead"] == ids(m for m in members if m.job_type == "test.permanent")
    assert sorted(told[0]["succeeded"]) == ids(m for m in members if m.job_type == "test.sleep")
    assert reconcile(running_grace=timedelta(0)) == {"lost": 0, "requeued": 0}
    assert JobRecord.objects.filter(job_type="test.batch_done").count() == 1


def test_a_batch_left_open_by_a_crash_is_completed_once_by_the_reconciler(clean_redis):
    batch = enqueue_batch([("test.sleep", {"marker": "a", "seconds": 0}), ("test.permanent", {"marker": "b"}),
                           ("test.sleep", {"marker": "c", "seconds": 0})],
                          on_complete=("test.batch_done", {"marker": "open"}))
    first, second, third = batch.members.order_by("created_at", "id")
    # The members ended, but their processes died before the completion check (a write that bypasses
    # jobs.states does exactly that: no check runs).
    JobRecord.objects.filter(pk__in=[first.pk, third.pk]).update(status=Status.SUCCEEDED)
    assert batches.complete(batch.pk) is None, "a member is still queued"
    JobRecord.objects.filter(pk=second.pk).update(status=Status.CANCELED)
    assert JobBatch.objects.get(pk=batch.pk).completed_at is None

    reconcile()
    batch.refresh_from_db()
    assert batch.completed_at is not None and batch.callback_id is not None
    callback = JobRecord.objects.get(pk=batch.callback_id)
    assert callback.job_type == "test.batch_done" and callback.payload == {"marker": "open"}
    assert clean_redis.exists(f"rq:job:{callback.pk}"), "the callback is sent to RQ when its transaction commits"
    outcome = batches.outcome(batch.pk)
    assert ids_of(outcome.succeeded) == ids([first, third]) and ids_of(outcome.canceled) == [str(second.pk)]
    assert outcome.dead == []

    reconcile()
    assert batches.complete(batch.pk) is None
    assert JobRecord.objects.filter(job_type="test.batch_done").count() == 1


def ids_of(pks):
    return sorted(str(pk) for pk in pks)


def test_many_processes_checking_at_once_enqueue_one_callback(clean_redis):
    batch = enqueue_batch([("test.sleep", {"marker": "r", "seconds": 0})] * 3,
                          on_complete=("test.batch_done", {"marker": "race"}))
    JobRecord.objects.filter(batch=batch).update(status=Status.SUCCEEDED)
    start, won = threading.Barrier(8), []

    def check():
        from django.db import connection

        try:
            start.wait()
            won.append(batches.complete(batch.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(won) == 8 and len([record for record in won if record is not None]) == 1
    assert JobRecord.objects.filter(job_type="test.batch_done").count() == 1


@pytest.mark.parametrize("jobs, on_complete, field", [
    ([("test.sleep", {"marker": "x", "seconds": 0}), ("test.sleep", {"marker": "x", "seconds": -1})],
     ("test.batch_done", {"marker": "x"}), "jobs[1].payload.seconds"),
    ([("test.sleep", {"marker": "x", "seconds": 0})], ("test.batch_done", {}), "on_complete.payload.marker"),
    ([{"job_type": "test.nope", "payload": {}}], ("test.batch_done", {"marker": "x"}), "jobs[0].job_type"),
    ([("test.sleep", {"marker": "x", "seconds": 0})], ("test.nope", {}), "on_complete.job_type"),
    ([("test.sleep", {"marker": "x", "seconds": 0}), ("test.unique_active", {"report_id": 1})],
     ("test.batch_done", {"marker": "x"}), "jobs[1].job_type"),
    ([("test.sleep", {"marker": "x", "seconds": 0}), "test.sleep"], ("test.batch_done", {"marker": "x"}), "jobs[1]"),
    ([], ("test.batch_done", {"marker": "x"}), "jobs"),
    ([("test.sleep", {"marker": "x", "seconds": 0})], None, "on_complete"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(jobs, on_complete, field):
    with pytest.raises(JobError) as refused:
        enqueue_batch(jobs, on_complete=on_complete)
    assert refused.value.field == field
    assert not JobBatch.objects.exists() and not JobRecord.objects.exists()


def test_the_admin_shows_a_batch_and_retries_its_dead_members(client, clean_redis):
    batch = enqueue_batch([("test.sleep", {"marker": "s", "seconds": 0}), ("test.always_fails", {"marker": "d"}),
                           ("test.sleep", {"marker": "q", "seconds": 0})],
                          on_complete=("test.batch_done", {"marker": "admin"}))
    done, dead, waiting = batch.members.order_by("created_at", "id")
    JobRecord.objects.filter(pk=done.pk).update(status=Status.SUCCEEDED)
    JobRecord.objects.filter(pk=dead.pk).update(status=Status.DEAD, attempts=3)
    client.force_login(make_staff("operator1", OPERATORS))

    page = client.get("/admin/jobs/jobbatch/")
    assert page.status_code == 200 and "2/3" in page.content.decode()
    page = client.get(f"/admin/jobs/jobbatch/{batch.pk}/change/").content.decode()
    assert "2/3" in page and f"?batch__id__exact={batch.pk}" in page and "test.batch_done" in page
    members = client.get(f"/admin/jobs/jobrecord/?batch__id__exact={batch.pk}")
    assert members.status_code == 200
    assert {str(r.pk) for r in members.context["cl"].result_list} == {str(done.pk), str(dead.pk), str(waiting.pk)}

    answer = client.post("/admin/jobs/jobbatch/", {"action": "retry_dead_members", "_selected_action": [batch.pk]},
                         follow=True)
    assert "1 dead member(s) retried" in answer.content.decode()
    assert JobRecord.objects.get(pk=dead.pk).status == Status.QUEUED
    assert JobRecord.objects.get(pk=done.pk).status == Status.SUCCEEDED
