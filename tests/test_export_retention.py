"""Expired export files are deleted by their schedule's job, and the audit log says so."""

from datetime import date, datetime, timedelta, timezone
from importlib import import_module

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from exports.models import Export
from jobs.models import JobRecord, Schedule, Status
from jobs import schedules
from jobs.schedules import run_due_schedules
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_retention_schedule_deletes_expired_files_and_audits_it(start_worker):
    guild = Guild.objects.create(name="G", slug="g")
    now = datetime.now(timezone.utc)
    files = {}
    for name, expires in (("old", now - timedelta(hours=1)), ("fresh", now + timedelta(days=3))):
        path = default_storage.save(f"exports/test/{name}.enc", ContentFile(b"sealed"))
        files[name] = Export.objects.create(guild=guild, format="csv", start=date(2026, 1, 1), end=date(2026, 1, 2),
                                            metrics=["messages"], file_name=path, completed_at=now, expires_at=expires)
    # The built-in schedule as its migration defines it (the flush between tests removed the row).
    spec = import_module("exports.migrations.0002_retention_schedule").SPEC
    Schedule.objects.filter(name=spec["name"]).delete()
    schedule = schedules.schedule_save(Schedule(**spec))
    [record] = run_due_schedules(now=schedule.next_run_at + timedelta(seconds=1))
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=20)

    old, fresh = (Export.objects.get(pk=files[n].pk) for n in ("old", "fresh"))
    assert old.file_name == "" and not default_storage.exists(files["old"].file_name)
    assert fresh.file_name and default_storage.exists(fresh.file_name)
    event = AuditEvent.objects.get(action="export.file_deleted")
    assert event.resource_id == str(old.pk) and event.guild == guild and event.data["reason"] == "expired"
