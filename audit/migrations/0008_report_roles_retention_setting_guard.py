"""Who may see the new audit models, the retention schedule reading ``AUDIT_RETENTION_DAYS``, and the
append-only guard covering ``event_key``.

- "Job viewers" and "Job operators" may view the audit rollup; "Job operators" may also ask for and
  download audit reports (``add_auditreport``, ``view_auditreport``). Viewers may not: a report is a
  download of every guild's activity.
- The built-in retention schedule passed ``{"days": 90}``; it now passes nothing, so the job uses the
  ``AUDIT_RETENTION_DAYS`` setting. A schedule staff changed (other days) is left alone.
- The guard of migration 0005 compared every column but the new ``event_key``: it now compares it too,
  so no UPDATE can change an event's key either.
Idempotent (get_or_create, add).
"""

from django.db import migrations

ROLES = {
    "Job viewers": [("audit", "view_auditrollup")],
    "Job operators": [("audit", "view_auditrollup"), ("audit", "view_auditreport"), ("audit", "add_auditreport")],
}
OLD_RETENTION = {"name": "Audit retention (90 days)", "payload": {"days": 90}}
NEW_RETENTION_NAME = "Audit retention (AUDIT_RETENTION_DAYS)"

GUARD = """
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
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
       AND (NEW.id, NEW.created_at, NEW.action, NEW.resource_type, NEW.resource_id, NEW.correlation_id, NEW.data,
            NEW.event_key)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.created_at, OLD.action, OLD.resource_type, OLD.resource_id, OLD.correlation_id, OLD.data,
            OLD.event_key)
    THEN
        RETURN NEW;  -- a deleted user's or guild's ON DELETE SET NULL
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
        MESSAGE = 'the audit log is append-only: UPDATE of audit event ' || OLD.id || ' refused';
END $$
"""


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("audit")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, pairs in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*[Permission.objects.get(content_type__app_label=app, codename=codename)
                                for app, codename in pairs])


def retention_from_setting(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.filter(job_type="audit.apply_retention", **OLD_RETENTION).update(
        name=NEW_RETENTION_NAME, payload={})


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0007_search_indexes_rollups_reports"),
        ("jobs", "0003_roles_and_builtin_schedules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(grant, migrations.RunPython.noop),
        migrations.RunPython(retention_from_setting, migrations.RunPython.noop),
        migrations.RunPython(guard, migrations.RunPython.noop),
    ]
