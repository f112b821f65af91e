"""Per-call options and unique jobs on the ledger.

``options`` keeps what one ``enqueue`` call overrode (timeout, backoff, max attempts), so that the runner,
the retries and RQ's timeout use them on every attempt, after a worker crash or a Redis restart too.
``unique_key``/``unique_scope``/``unique_until`` hold a unique job's key (``jobs.unique``); the two partial
unique indexes are what makes two concurrent enqueues of one key unable to both win. Both index
conditions are on status, so a record leaves its scope without any write. The new columns have constant
database defaults: adding them rewrites no rows; the indexes cover only unique jobs' rows, and on
PostgreSQL they are built CONCURRENTLY (no write lock on a big ledger while they build): the model state
gets the index and constraints, the database the same indexes through ``create_indexes``.
"""

from django.db import migrations, models

# (name, unique, columns, condition): what the state operations below declare, as SQL.
INDEXES = [
    ("job_unique_period_idx", False, "unique_key, unique_until", "unique_scope = 'period'"),
    ("job_unique_waiting", True, "unique_key",
     "attempts = 0 AND status IN ('pending', 'queued') AND unique_scope = 'waiting'"),
    ("job_unique_active", True, "unique_key",
     "status IN ('pending', 'queued', 'running', 'retrying') AND unique_scope = 'active'"),
]


def create_indexes(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, unique, columns, condition in INDEXES:
        schema_editor.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX {concurrently}IF NOT EXISTS {name} "
                              f"ON jobs_jobrecord ({columns}) WHERE {condition}")


def drop_indexes(apps, schema_editor):
    for name, *_ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("jobs", "0008_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="jobrecord",
            name="options",
            field=models.JSONField(blank=True, db_default={}, default=dict,
                                   help_text="Options given to this enqueue call that override the job type's."),
        ),
        migrations.AddField(
            model_name="jobrecord",
            name="unique_key",
            field=models.CharField(blank=True, max_length=255, null=True),
        ),
        migrations.AddField(
            model_name="jobrecord",
            name="unique_scope",
            field=models.CharField(blank=True, db_default="", default="", max_length=8),
        ),
        migrations.AddField(
            model_name="jobrecord",
            name="unique_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="jobrecord",
                    index=models.Index(condition=models.Q(("unique_scope", "period")), fields=["unique_key", "unique_until"],
                                       name="job_unique_period_idx"),
                ),
                migrations.AddConstraint(
                    model_name="jobrecord",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("attempts", 0), ("status__in", ["pending", "queued"]), ("unique_scope", "waiting")),
                        fields=("unique_key",), name="job_unique_waiting"),
                ),
                migrations.AddConstraint(
                    model_name="jobrecord",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("status__in", ["pending", "queued", "running", "retrying"]), ("unique_scope", "active")),
                        fields=("unique_key",), name="job_unique_active"),
                ),
            ],
            database_operations=[migrations.RunPython(create_indexes, drop_indexes, elidable=False)],
        ),
    ]
