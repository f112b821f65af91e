"""The audit app's own rows: its view permissions in the "Job viewers" and "Job operators" roles, and
its built-in schedules (the nightly job rollup, audit retention).

They were seeded by ``jobs`` migration 0003 until the engine stopped knowing its domain apps; each app
now seeds its own. Idempotent (get_or_create, add): on a database where ``jobs`` 0003 already seeded
them this changes nothing; on a fresh one the end state is the same as before.
"""

from datetime import datetime, timezone

from croniter import croniter
from django.db import migrations

ROLES = {
    "Job viewers": [("audit", "view_auditevent"), ("audit", "view_dailyjobrollup")],
    "Job operators": [("audit", "view_auditevent"), ("audit", "view_dailyjobrollup")],
}
SCHEDULES = [
    {"name": "Nightly job rollup", "job_type": "audit.rollup", "payload": {}, "cron": "0 2 * * *"},
    {"name": "Audit retention (90 days)", "job_type": "audit.apply_retention", "payload": {"days": 90},
     "cron": "30 3 * * *"},
]


def grant_views(apps, schema_editor):
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


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    now = datetime.now(timezone.utc)
    for spec in SCHEDULES:
        Schedule.objects.get_or_create(name=spec["name"], defaults={
            **spec, "timezone": "UTC", "enabled": True, "next_run_at": croniter(spec["cron"], now).get_next(datetime),
        })


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_append_only_guard"),
        ("jobs", "0003_roles_and_builtin_schedules"),  # creates the two groups and the Schedule table
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(grant_views, migrations.RunPython.noop),
        migrations.RunPython(create_schedules, migrations.RunPython.noop),
    ]
