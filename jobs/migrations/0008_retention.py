"""Retention: the built-in hourly "Job retention" schedule (job type ``jobs.prune``).

Idempotent (get_or_create): a schedule staff renamed or disabled is left as it is.
"""

from datetime import datetime, timezone

from croniter import croniter
from django.db import migrations

SCHEDULE = {"name": "Job retention", "job_type": "jobs.prune", "payload": {}, "cron": "17 * * * *"}


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    now = datetime.now(timezone.utc)
    Schedule.objects.get_or_create(name=SCHEDULE["name"], defaults={
        **SCHEDULE, "timezone": "UTC", "enabled": True,
        "next_run_at": croniter(SCHEDULE["cron"], now).get_next(datetime),
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name=SCHEDULE["name"], job_type=SCHEDULE["job_type"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0007_enqueue_permission"),
    ]

    operations = [
        migrations.RunPython(create_schedule, remove_schedule),
    ]
