"""Retention never frees a period-unique key early: a finished job whose key is held for a period
(``Unique(scope=timedelta(...))``) stays in the ledger, and out of the pass's report, until its
``unique_until`` has passed, whatever its status and age; the pass after that removes it. The rows it
keeps do not stop the pass from walking past them, and every statement of a pass still goes through an
index."""

import uuid
from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import batches, registry, retention
from jobs.connection import queue_name
from jobs.enqueue import enqueue, enqueue_batch
from jobs.models import JobRecord, Status
from jobs.unique import Unique

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = queue_name("default")
FINISHED_AT = {"succeeded": "succeeded_at", "dead": "dead_at", "canceled": "canceled_at"}


@pytest.fixture(autouse=True)
def rules(settings):
    settings.JOBS_KEEP_SUCCEEDED_DAYS = 7
    settings.JOBS_KEEP_DEAD_DAYS = 30
    settings.JOBS_KEEP_FAILED = 0


@pytest.fixture
def held_for_30_days(monkeypatch):
    """``test.unique_period`` (tests/jobtypes.py) declared as the tester declared theirs: its key held for
    30 days after each enqueue. Only this process enqueues, so only its declaration changes; a worker
    runs the job as it runs any."""
    declared = registry.get("test.unique_period")
    monkeypatch.setitem(registry._types, declared.name,
                        replace(declared, unique=Unique(key=("report_id",), scope=timedelta(days=30))))


def test_a_succeeded_job_keeps_its_30_day_key_through_retention_until_the_30_days_are_over(held_for_30_days,
                                                                                            start_worker):
    first = enqueue("test.unique_period", {"report_id": 7})
    start_worker(burst=True).wait(60)
    first.refresh_from_db()
    assert first.status == Status.SUCCEEDED
    assert enqueue("test.unique_period", {"report_id": 7}).created is False

    report = retention.prune(now=timezone.now() + timedelta(days=8))  # a week past JOBS_KEEP_SUCCEEDED_DAYS

    assert JobRecord.objects.filter(pk=first.pk).exists(), "its key is held 22 more days"
    assert report["removed"] == 0 and report["by_status"] == {} and report["by_type"] == {}
    again = enqueue("test.unique_period", {"report_id": 7})
    assert again.created is False and again.pk == first.pk

    report = retention.prune(now=first.unique_until + timedelta(seconds=1))

    assert not JobRecord.objects.filter(pk=first.pk).exists()
    assert report["by_type"] == {"test.unique_period": {"succeeded": 1}}
    assert enqueue("test.unique_period", {"report_id": 7}).created is True


def record(status, *, days_ago, held_for_days=None):
    """A record of ``test.unique_period`` in ``status`` since ``days_ago``; it holds its key for
    ``held_for_days`` from now (negative: the period ended that long ago), or holds none."""
    now = timezone.now()
    at = now - timedelta(days=days_ago)
    values = {"created_at": at - timedelta(minutes=1), "status_changed_at": at, FINISHED_AT[status]: at}
    if held_for_days is not None:
        values.update(unique_key=f"test.unique_period:{uuid.uuid4().hex}", unique_scope="period",
                      unique_until=now + timedelta(days=held_for_days))
    return JobRecord.objects.create(job_type="test.unique_period", queue=QUEUE, status=status, max_attempts=1,
                                    attempts=1, correlation_id=f"cid-{uuid.uuid4().hex[:8]}", **values)


@pytest.mark.parametrize("status", ["succeeded", "dead", "canceled"])
def test_kept_keys_are_stepped_over_and_every_other_due_record_goes(status):
    # Oldest first: due, held, due, held, due, held, due, period over (due): batches of 2 must walk past
    # the held rows to the ones behind them.
    rows = []
    for i in range(7):
        rows.append(record(status, days_ago=60 - i, held_for_days=5 if i % 2 else None))
    ended = record(status, days_ago=50, held_for_days=-1)

    report = retention.prune(batch=2)

    left = set(JobRecord.objects.values_list("pk", flat=True))
    assert left == {row.pk for row in rows[1::2]}, "only the records still holding their keys stay"
    assert ended.pk not in left
    assert report["removed"] == 5 and report["by_status"] == {status: 5}


def test_a_pass_reads_the_ledger_and_its_batches_through_indexes():
    """EXPLAIN of every statement a pass runs, with sequential scans disabled: any index that fits is
    taken, so a Seq Scan left in a plan means no index serves it. (Whether the planner walks the
    timestamp's index in order at a million rows is bench/retention_scale.py's to show.)"""
    for status in ("succeeded", "dead", "canceled"):
        record(status, days_ago=40)
        record(status, days_ago=40, held_for_days=3)
    # A completed batch whose member and callback are due: the pass looks its batch up and removes it.
    batch = enqueue_batch([("test.sleep", {"marker": "m", "seconds": 0})],
                          on_complete=("test.batch_done", {"marker": "x"}))
    long_ago = timezone.now() - timedelta(days=9)
    JobRecord.objects.filter(batch=batch).update(status=Status.SUCCEEDED, succeeded_at=long_ago)
    callback = batches.complete(batch.pk)
    JobRecord.objects.filter(pk=callback.pk).update(status=Status.SUCCEEDED, succeeded_at=long_ago)

    with CaptureQueriesContext(connection) as queries:
        assert retention.prune()["job_batches"] == 1
    statements = [q["sql"] for q in queries.captured_queries
                  if q["sql"].split()[0] in ("SELECT", "UPDATE", "DELETE") and "jobs_job" in q["sql"]]
    assert len([sql for sql in statements if "FOR UPDATE" in sql]) >= 3
    assert any(sql.startswith('DELETE FROM "jobs_jobbatch"') for sql in statements)
    for sql in statements:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            shown = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan on jobs_job" not in shown, f"{sql}\n{shown}"
