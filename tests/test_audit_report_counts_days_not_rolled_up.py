"""An audit report counts every event of its period: days the nightly rollup never covered are rolled up
by the report job first, a period that includes today says up to when today is counted, and an old day
already rolled up keeps its counts (its events may be gone by retention)."""

import csv
from datetime import date, datetime, time, timedelta, timezone

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from audit.models import AuditReport, AuditRollup
from audit.services import audit_report_generate

pytestmark = pytest.mark.django_db


def insert_at(moment, action, count=1):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (created_at, action, resource_type, resource_id, guild_id, correlation_id,"
            " data) SELECT %s, %s, 'test', n::text, NULL, '', '{}' FROM generate_series(1, %s) n",
            [moment, action, count])


def report_rows(start, end):
    report = AuditReport.objects.create(start=start, end=end)
    result = audit_report_generate(report=report)
    report.refresh_from_db()
    with default_storage.open(report.file_name, "r") as csv_file:
        rows = list(csv.reader(csv_file))
    default_storage.delete(report.file_name)
    return result, rows[1:]


def test_events_on_a_day_never_rolled_up_are_in_the_report():
    day = date(2026, 2, 10)  # long ago: the nightly would not cover it now
    insert_at(datetime.combine(day, time(9), tzinfo=timezone.utc), "export.downloaded", 3)
    insert_at(datetime.combine(day, time(23, 59), tzinfo=timezone.utc), "job.enqueued", 1)
    assert not AuditRollup.objects.filter(day=day).exists()
    result, rows = report_rows(date(2026, 2, 1), date(2026, 2, 28))
    assert rows == [["2026-02-10", "", "", "export.downloaded", "3"], ["2026-02-10", "", "", "job.enqueued", "1"]]
    assert result["rows"] == 2 and "note" not in result


def test_an_old_day_already_rolled_up_keeps_its_counts():
    day = date(2026, 1, 5)
    AuditRollup.objects.create(day=day, guild=None, action="export.downloaded", count=40)  # its events are gone
    _, rows = report_rows(day, day)
    assert rows == [["2026-01-05", "", "", "export.downloaded", "40"]]


def test_a_period_with_today_counts_today_up_to_now_and_says_so():
    now = datetime.now(timezone.utc)
    today, yesterday = now.date(), now.date() - timedelta(days=1)
    insert_at(datetime.combine(yesterday, time(12), tzinfo=timezone.utc), "export.downloaded", 2)
    AuditRollup.objects.create(day=yesterday, guild=None, action="export.downloaded", count=1)  # partial, stale
    insert_at(now - timedelta(seconds=1), "job.enqueued", 5)
    result, rows = report_rows(yesterday, today)
    assert ["".join(map(str, (yesterday.isoformat(), "", "", "export.downloaded", "2")))] == [
        "".join(row) for row in rows if row[0] == yesterday.isoformat()]
    assert [today.isoformat(), "", "", "job.enqueued", "5"] in rows
    assert result["note"].startswith(f"today ({today.isoformat()}) is counted up to ") and result["note"].endswith(" UTC")
