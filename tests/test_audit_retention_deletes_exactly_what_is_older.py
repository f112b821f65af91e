"""Audit retention removes exactly the events older than ``AUDIT_RETENTION_DAYS``, in batches of
``AUDIT_RETENTION_BATCH``, and says so in the log: one event with how many went and up to when. A bad
value of either setting stops start-up naming it."""

from datetime import datetime, timedelta

import pytest
from django.db import connection

from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import wait_for
from tests.test_settings_validation import start


def insert_aged(age: timedelta, count: int, label: str) -> list[int]:
    """``count`` events created ``age`` ago (raw INSERT: the model stamps new events with now)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (created_at, action, resource_type, resource_id, correlation_id, data)"
            " SELECT now() - %s, 'test.aged', 'test', %s || '-' || n, '', '{}' FROM generate_series(1, %s) n"
            " RETURNING id", [age, label, count])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_retention_deletes_exactly_the_events_older_than_the_limit_and_audits_itself(start_worker):
    days = 30
    older = (insert_aged(timedelta(days=days, minutes=5), 230, "just-older")
             + insert_aged(timedelta(days=400), 25, "ancient"))
    younger = (insert_aged(timedelta(days=days) - timedelta(minutes=5), 40, "just-younger")
               + insert_aged(timedelta(days=1), 10, "recent"))
    record = enqueue("audit.apply_retention", {})  # what the nightly schedule enqueues: the setting decides

    worker = start_worker("jdtest.audit", env={"AUDIT_RETENTION_DAYS": days, "AUDIT_RETENTION_BATCH": 100})
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status__in=[Status.SUCCEEDED, Status.DEAD]).exists(),
             timeout=30, message="the retention job")
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED, (record.last_error, worker.output()[-2000:])

    assert not AuditEvent.objects.filter(pk__in=older).exists()
    assert AuditEvent.objects.filter(pk__in=younger).count() == len(younger)
    assert record.result == {"deleted": len(older)}

    applied = AuditEvent.objects.get(action="audit.retention_applied")
    assert applied.data["deleted"] == len(older) and applied.data["days"] == days
    before = datetime.fromisoformat(applied.data["before"])
    assert abs((applied.created_at - timedelta(days=days)) - before) < timedelta(minutes=1)
    assert applied.correlation_id == record.correlation_id


@pytest.mark.parametrize("name, value", [
    ("AUDIT_RETENTION_DAYS", "0"), ("AUDIT_RETENTION_DAYS", "forever"), ("AUDIT_RETENTION_DAYS", "5000"),
    ("AUDIT_RETENTION_BATCH", "10"), ("AUDIT_ROLLUP_DAYS", "0"),
])
def test_a_bad_setting_stops_start_up_naming_it(name, value):
    result = start(**{name: value})
    assert result.returncode != 0 and name in result.stderr, result.stderr[-500:]
