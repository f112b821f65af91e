"""On PostgreSQL, the audit events of jobs are written by triggers on the ledger table.

Every INSERT into ``jobs_jobrecord`` and every UPDATE that changes a record's ``status`` adds one
``audit_auditevent`` row per record, inside the statement that made the change: the state machine's
writes stay one statement each (no extra round trip or COMMIT for the audit log), and no path that
writes the ledger can skip the audit. ``status_note`` carries what the row alone does not say (the
reason, the staff member who made the change, attempt details). Statement-level triggers with
transition tables: a batch of a thousand records is one INSERT … SELECT, not a thousand.

Other databases (SQLite for ``make run``) use the Python receiver in ``audit.receivers`` instead.
"""

from django.db import migrations

EVENT_COLUMNS = "created_at, actor_id, action, resource_type, resource_id, guild_id, correlation_id, data"

CREATE = [f"""
CREATE FUNCTION audit_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_auditevent ({EVENT_COLUMNS})
    SELECT n.status_changed_at, n.actor_id, 'job.enqueued', 'job', n.id::text, n.guild_id, n.correlation_id,
           jsonb_build_object('job_type', n.job_type, 'from', NULL, 'to', n.status) || (n.status_note - 'actor_id')
    FROM inserted_jobs n;
    RETURN NULL;
END $$
""", f"""
CREATE FUNCTION audit_jobs_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_auditevent ({EVENT_COLUMNS})
    SELECT n.status_changed_at, (n.status_note ->> 'actor_id')::bigint, 'job.' || n.status, 'job', n.id::text,
           n.guild_id, n.correlation_id,
           jsonb_build_object('job_type', n.job_type, 'from', o.status, 'to', n.status) || (n.status_note - 'actor_id')
    FROM updated_jobs n JOIN previous_jobs o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status;
    RETURN NULL;
END $$
""", """
CREATE TRIGGER audit_jobs_inserted AFTER INSERT ON jobs_jobrecord
    REFERENCING NEW TABLE AS inserted_jobs FOR EACH STATEMENT EXECUTE FUNCTION audit_jobs_inserted()
""", """
CREATE TRIGGER audit_jobs_status_changed AFTER UPDATE ON jobs_jobrecord
    REFERENCING OLD TABLE AS previous_jobs NEW TABLE AS updated_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_jobs_status_changed()
"""]

DROP = [
    "DROP TRIGGER IF EXISTS audit_jobs_status_changed ON jobs_jobrecord",
    "DROP TRIGGER IF EXISTS audit_jobs_inserted ON jobs_jobrecord",
    "DROP FUNCTION IF EXISTS audit_jobs_status_changed()",
    "DROP FUNCTION IF EXISTS audit_jobs_inserted()",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_daily_rollup"),
        ("jobs", "0005_status_note"),
    ]

    operations = [migrations.RunPython(create, drop)]
