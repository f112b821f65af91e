"""Retention: the built-in hourly "Job retention" schedule (job type ``jobs.prune``) and the indexes its
batches select through (``jobs.retention``).

Dead and canceled records are pruned per job type, oldest first, below the newest JOBS_KEEP_FAILED:
``(job_type, dead_at) WHERE status = 'dead'`` (and the same for canceled) answers both the per-type
threshold and each batch by a range scan. (Succeeded ones use the existing ``job_succeeded_idx``.) The
existing ``job_dead_idx`` puts ``last_error_type`` before ``dead_at``, so it would sort a type's whole
dead set on every batch. The indexes are built CONCURRENTLY on PostgreSQL (no write lock on a big ledger)
and kept out of the model state: raw SQL, so that ``makemigrations`` does not see them.

The schedule is created with get_or_create: a schedule staff edited or disabled is left as it is.
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


INDEXES = [
    ("job_dead_type_idx", "dead_at", "dead"),
    ("job_canceled_type_idx", "canceled_at", "canceled"),
]


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, column, status in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON jobs_jobrecord (job_type, {column}) "
            f"WHERE status = '{status}'"
        )


def drop_indexes(apps, schema_editor):
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def remove_schedule(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name=SCHEDULE["name"], job_type=SCHEDULE["job_type"]).delete()


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("jobs", "0007_enqueue_permission"),
    ]

    operations = [
        migrations.RunPython(create_schedule, remove_schedule, atomic=True),
        migrations.RunPython(create_indexes, drop_indexes, atomic=False),
    ]
