"""The built-in schedule that deletes expired export files every hour."""

from datetime import datetime, timezone

from croniter import croniter
from django.db import migrations

SPEC = {"name": "Delete expired exports", "job_type": "exports.delete_expired", "payload": {"limit": 10000},
        "cron": "15 * * * *"}


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    now = datetime.now(timezone.utc)
    Schedule.objects.get_or_create(name=SPEC["name"], defaults={
        **SPEC, "timezone": "UTC", "enabled": True, "next_run_at": croniter(SPEC["cron"], now).get_next(datetime),
    })


class Migration(migrations.Migration):
    dependencies = [("exports", "0001_initial"), ("jobs", "0003_roles_and_builtin_schedules")]
    operations = [migrations.RunPython(create_schedule, migrations.RunPython.noop)]
