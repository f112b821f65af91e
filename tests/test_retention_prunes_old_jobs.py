"""Retention removes exactly the finished records its rules no longer keep (with their attempts and RQ's
keys for them), keeps the last JOBS_KEEP_FAILED failures of each type whatever their age, and runs
hourly as the built-in "Job retention" schedule through a real worker."""

import uuid
from datetime import timedelta
from importlib import import_module

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from exports.models import Export
from jobs import registry, retention, rq_internals, schedules
from jobs.connection import queue_name, redis_connection
from jobs.models import JobAttempt, JobRecord, Outcome, Schedule, Status
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = queue_name("default")
FINISHED_AT = {"succeeded": "succeeded_at", "dead": "dead_at", "canceled": "canceled_at"}


@pytest.fixture(autouse=True)
def rules(settings):
    settings.JOBS_KEEP_SUCCEEDED_DAYS = 7
    settings.JOBS_KEEP_DEAD_DAYS = 30
    settings.JOBS_KEEP_FAILED = 3


def record(status, *, days_ago=0.0, job_type="test.sleep", attempts=1, rq_hash=True, **fields):
    """A record in ``status`` that got there ``days_ago``, with its attempts and RQ's keys for it (its
    job hash unless ``rq_hash`` is false (expired, as RQ's TTLs do), executions, and a place in the
    failed registry for a dead one)."""
    now = timezone.now()
    at = now - timedelta(days=days_ago)
    values = {"created_at": at - timedelta(minutes=1), "status_changed_at": at}
    if status in FINISHED_AT:
        values[FINISHED_AT[status]] = at
    row = JobRecord.objects.create(job_type=job_type, queue=QUEUE, status=status, max_attempts=3, attempts=attempts,
                                   correlation_id=f"cid-{uuid.uuid4().hex[:8]}", **values, **fields)
    for number in range(1, attempts + 1):
        JobAttempt.objects.create(record=row, number=number, queue=QUEUE, correlation_id=row.correlation_id,
                                  started_at=at - timedelta(seconds=30), ended_at=at,
                                  outcome=Outcome.SUCCEEDED if status == "succeeded" else Outcome.FAILED)
    conn = redis_connection()
    if rq_hash:
        conn.hset(rq_internals.job_key(row.pk), mapping={"status": "finished", "origin": QUEUE})
    conn.hset(rq_internals.executions_key(row.pk), mapping={"x": "1"})
    if status == "dead":
        conn.zadd(rq_internals.failed_key(QUEUE), {str(row.pk): 1})
    return row


def remaining(rows):
    return {r.pk for r in rows} & set(JobRecord.objects.values_list("pk", flat=True))


def in_redis(row):
    conn = redis_connection()
    return bool(conn.exists(rq_internals.job_key(row.pk), rq_internals.executions_key(row.pk))
                or conn.zscore(rq_internals.failed_key(QUEUE), str(row.pk)) is not None)


def test_old_succeeded_records_go_with_their_attempts_and_rq_keys_young_ones_stay():
    old = [record("succeeded", days_ago=8 + i, attempts=2) for i in range(3)]
    young = [record("succeeded", days_ago=6.9), record("succeeded", days_ago=0)]

    report = retention.prune(batch=2)  # several batches

    assert remaining(old) == set() and remaining(young) == {r.pk for r in young}
    assert not JobAttempt.objects.filter(record_id__in=[r.pk for r in old]).exists()
    assert JobAttempt.objects.filter(record_id__in=[r.pk for r in young]).count() == 2
    assert not any(in_redis(r) for r in old) and all(in_redis(r) for r in young)
    assert report["removed"] == 3 and report["by_status"] == {"succeeded": 3}
    assert report["by_type"] == {"test.sleep": {"succeeded": 3}} and report["batches"] == 2


def test_old_dead_records_go_except_the_last_n_of_each_type_whatever_their_age():
    # test.sleep: five dead, all older than 30 days: the three newest stay.
    sleep_dead = [record("dead", days_ago=40 + i, rq_hash=i < 4) for i in range(5)]  # newest first
    # test.fail: two old dead (fewer than 3: both stay, old as they are) ...
    fail_dead = [record("dead", days_ago=60 + i, job_type="test.fail") for i in range(2)]
    # test.flaky: 2 young dead and 3 old: the 2 young plus the newest old one are its last 3.
    flaky_young = [record("dead", days_ago=i, job_type="test.flaky") for i in range(2)]
    flaky_old = [record("dead", days_ago=31 + i, job_type="test.flaky") for i in range(3)]

    report = retention.prune()

    assert remaining(sleep_dead) == {r.pk for r in sleep_dead[:3]}
    assert remaining(fail_dead) == {r.pk for r in fail_dead}
    assert remaining(flaky_young + flaky_old) == {r.pk for r in flaky_young + flaky_old[:1]}
    gone = sleep_dead[3:] + flaky_old[1:]
    assert not JobAttempt.objects.filter(record_id__in=[r.pk for r in gone]).exists()
    assert not any(in_redis(r) for r in gone) and in_redis(sleep_dead[0])
    assert report["by_type"] == {"test.sleep": {"dead": 2}, "test.flaky": {"dead": 2}}


def test_canceled_records_are_treated_like_dead_ones_counted_apart():
    canceled = [record("canceled", days_ago=35 + i) for i in range(5)]
    dead = [record("dead", days_ago=50 + i) for i in range(3)]  # older than every cancel, yet its type's last 3

    report = retention.prune()

    assert remaining(canceled) == {r.pk for r in canceled[:3]} and remaining(dead) == {r.pk for r in dead}
    assert report["by_status"] == {"canceled": 2}


def test_waiting_and_running_records_of_any_age_stay():
    open_rows = [record(status, days_ago=400, attempts=0 if status in ("pending", "queued") else 1)
                 for status in ("pending", "queued", "running", "retrying")]

    assert retention.prune()["removed"] == 0

    assert remaining(open_rows) == {r.pk for r in open_rows}
    assert not AuditEvent.objects.filter(action="jobs.pruned").exists()


def test_rows_pointing_at_a_pruned_record_are_cleared_and_the_pass_is_audited():
    parent = record("succeeded", days_ago=10)
    child = record("running", days_ago=10, parent=parent)
    guild = Guild.objects.create(name="G", slug="g")
    export = Export.objects.create(guild=guild, format="csv", start="2026-01-01", end="2026-01-02",
                                   metrics=["messages"], job=parent)
    schedule = schedules.schedule_save(Schedule(name="s", job_type="test.sleep", payload={"marker": "s", "seconds": 0},
                                                cron="0 * * * *"))
    Schedule.objects.filter(pk=schedule.pk).update(last_job=parent)
    events_before = AuditEvent.objects.count()

    retention.prune()

    assert not JobRecord.objects.filter(pk=parent.pk).exists()
    assert JobRecord.objects.get(pk=child.pk).parent_id is None
    assert Export.objects.get(pk=export.pk).job_id is None and Schedule.objects.get(pk=schedule.pk).last_job_id is None
    # The audit log keeps every event of the pruned job and adds one for the pass.
    assert AuditEvent.objects.filter(resource_id=str(parent.pk)).exists()
    event = AuditEvent.objects.get(action="jobs.pruned")
    assert event.actor_id is None and event.data["by_type"] == {"test.sleep": {"succeeded": 1}}
    assert AuditEvent.objects.count() == events_before + 1


def test_the_built_in_hourly_schedule_prunes_through_a_real_worker(start_worker):
    old = [record("succeeded", days_ago=2), record("dead", days_ago=2), record("dead", days_ago=3)]
    young = record("succeeded", days_ago=0.5)
    # The built-in schedule as its migration defines it (the flush between tests removed the row).
    spec = import_module("jobs.migrations.0008_retention").SCHEDULE
    Schedule.objects.filter(name=spec["name"]).delete()
    schedule = schedules.schedule_save(Schedule(**spec))
    assert schedule.cron == "17 * * * *" and registry.get("jobs.prune").internal
    [job] = schedules.run_due_schedules(now=schedule.next_run_at + timedelta(seconds=1))

    start_worker(env={"JOBS_KEEP_SUCCEEDED_DAYS": "1", "JOBS_KEEP_DEAD_DAYS": "1", "JOBS_KEEP_FAILED": "1"})
    job = wait_for(lambda: JobRecord.objects.filter(pk=job.pk, status=Status.SUCCEEDED).first(), timeout=20,
                   message="the prune job to succeed")

    assert remaining(old) == {old[1].pk}  # the newest dead one of its type is kept
    assert remaining([young]) == {young.pk} and not in_redis(old[0]) and not in_redis(old[2])
    assert job.result["removed"] == 2
    assert job.result["by_type"] == {"test.sleep": {"succeeded": 1, "dead": 1}}
