"""The nightly rollup (02:00 UTC) counts audit events per guild, action and day; its counts equal a
direct count of the log, and a rerun (the next night recomputes the day before too) replaces them:
late events are counted, nothing is counted twice, a pair that no longer occurs is gone."""

import importlib
import random
from datetime import datetime, time, timedelta, timezone

import pytest
from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncDate

from audit.models import AuditEvent, AuditRollup, DailyJobRollup
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import wait_for

ACTIONS = ["export.downloaded", "job.enqueued", "webhook.delivered", "branding.changed"]


def insert_at(moment, action, guild_id, count=1):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (created_at, action, resource_type, resource_id, guild_id, correlation_id,"
            " data) SELECT %s, %s, 'test', n::text, %s, '', '{}' FROM generate_series(1, %s) n",
            [moment, action, guild_id, count])


def direct_counts(days, events=None):
    """The log counted straight, for the given UTC days."""
    rows = ((events or AuditEvent.objects).annotate(day=TruncDate("created_at", tzinfo=timezone.utc)).filter(day__in=days)
            .order_by().values("day", "guild_id", "action").annotate(n=Count("pk")))
    return {(row["day"], row["guild_id"], row["action"]): row["n"] for row in rows}


def rolled_up(days):
    return {(row.day, row.guild_id, row.action): row.count for row in AuditRollup.objects.filter(day__in=days)}


def run_rollup(start_worker, payload, worker=None):
    record = enqueue("audit.rollup", payload)
    worker = worker or start_worker("jdtest.audit")
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status__in=[Status.SUCCEEDED, Status.DEAD]).exists(),
             timeout=30, message="the rollup job")
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED, (record.last_error, worker.output()[-2000:])
    return worker, record


@pytest.mark.django_db(transaction=True)
def test_rollup_counts_equal_a_direct_count_and_a_rerun_replaces_them(start_worker):
    guilds = [Guild.objects.create(name=f"G{i}", slug=f"g{i}").pk for i in range(3)] + [None]
    today = datetime.now(timezone.utc).date()
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    rng = random.Random(7)
    for day in (before, yesterday, today):
        midnight = datetime.combine(day, time.min, tzinfo=timezone.utc)
        for guild in guilds:
            for action in ACTIONS:
                # Edges of the day on purpose: its first and last microsecond belong to it.
                for moment in (midnight, midnight + timedelta(seconds=rng.randint(1, 86398)),
                               midnight + timedelta(days=1, microseconds=-1)):
                    insert_at(moment, action, guild, rng.randint(0, 3))
    job = enqueue("test.sleep", {"marker": "rolled", "seconds": 0})  # the job rollup counts today's jobs

    worker, record = run_rollup(start_worker, {})  # the nightly payload: AUDIT_ROLLUP_DAYS (2) days
    expected = direct_counts([before, yesterday])
    assert expected and rolled_up([before, yesterday]) == expected
    assert not AuditRollup.objects.filter(day=today).exists(), "today is not over"
    assert sum(expected.values()) == AuditEvent.objects.filter(
        created_at__gte=datetime.combine(before, time.min, tzinfo=timezone.utc),
        created_at__lt=datetime.combine(today, time.min, tzinfo=timezone.utc)).count()
    assert [day["day"] for day in record.result["days"]] == [before.isoformat(), yesterday.isoformat()]

    # Late events of yesterday (a new pair among them), then the next run of the same days.
    late_guild = Guild.objects.create(name="Late", slug="late").pk
    insert_at(datetime.combine(yesterday, time(23, 59), tzinfo=timezone.utc), "export.downloaded", late_guild, 4)
    insert_at(datetime.combine(yesterday, time(12), tzinfo=timezone.utc), "export.downloaded", guilds[0], 2)
    run_rollup(start_worker, {}, worker)
    assert rolled_up([before, yesterday]) == direct_counts([before, yesterday])
    assert AuditRollup.objects.get(day=yesterday, guild_id=late_guild, action="export.downloaded").count == 4

    # Today, asked for by day: includes the job's own events and the job rollup of today.
    worker, record = run_rollup(start_worker, {"day": today.isoformat()}, worker)
    # (It counted before its own job succeeded: that last event of today came after.)
    counted = AuditEvent.objects.exclude(resource_id=str(record.pk), action="job.succeeded")
    assert rolled_up([today]) == direct_counts([today], counted)
    assert DailyJobRollup.objects.get(day=today, job_type="test.sleep").count == 1
    assert JobRecord.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db
def test_a_pair_that_no_longer_occurs_is_removed_from_its_day():
    from audit.services import audit_rollup_day

    day = datetime.now(timezone.utc).date() - timedelta(days=3)
    insert_at(datetime.combine(day, time(10), tzinfo=timezone.utc), "export.downloaded", None, 2)
    AuditRollup.objects.create(day=day, guild=None, action="gone.action", count=9)
    audit_rollup_day(day=day)
    assert rolled_up([day]) == {(day, None, "export.downloaded"): 2}
    audit_rollup_day(day=day)
    assert AuditRollup.objects.filter(day=day).count() == 1, "rerun: same rows, no duplicate of the NULL guild"


def test_the_rollup_is_scheduled_nightly_at_two_utc():
    seed = importlib.import_module("audit.migrations.0006_roles_and_builtin_schedules")
    nightly = [spec for spec in seed.SCHEDULES if spec["job_type"] == "audit.rollup"]
    assert nightly == [{"name": "Nightly job rollup", "job_type": "audit.rollup", "payload": {}, "cron": "0 2 * * *"}]
