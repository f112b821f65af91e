"""On PostgreSQL, a trigger keeps the audit log append-only whatever path a statement comes by (raw SQL,
the base manager, another client): it refuses every DELETE unless the transaction turned the purge
setting on (``AuditEvent.objects.purge_before``, used by retention, does so with ``SET LOCAL``), and
every UPDATE except the one Django makes when a user or guild is deleted (``actor_id``/``guild_id`` set
to NULL, nothing else changed). Row-level and BEFORE UPDATE OR DELETE only: inserts, the hot path
(the ledger's triggers write one per job change), do not run it. TRUNCATE (test flushes) does not fire it.
"""

from django.db import migrations

CREATE = ["""
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('jobdesk.audit_purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege', MESSAGE = 'the audit log is append-only: '
            || 'DELETE of audit event ' || OLD.id || ' refused (retention purges through AuditEvent.objects.purge_before)';
    END IF;
    IF (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
       AND (NEW.guild_id IS NULL OR NEW.guild_id = OLD.guild_id)
       AND (NEW.id, NEW.created_at, NEW.action, NEW.resource_type, NEW.resource_id, NEW.correlation_id, NEW.data)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.created_at, OLD.action, OLD.resource_type, OLD.resource_id, OLD.correlation_id, OLD.data)
    THEN
        RETURN NEW;  -- a deleted user's or guild's ON DELETE SET NULL
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = 'the audit log is append-only: UPDATE of audit event ' || OLD.id || ' refused';
END $$
""", """
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
"""]

DROP = [
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_events_append_only()",
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

    dependencies = [("audit", "0004_partial_fk_indexes")]

    operations = [migrations.RunPython(create, drop)]
