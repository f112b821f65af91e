"""The "Job viewers" and "Job operators" groups, and the built-in schedules."""

from datetime import datetime, timezone

from croniter import croniter
from django.db import migrations

VIEW = [
    ("jobs", "view_jobrecord"), ("jobs", "view_jobattempt"), ("jobs", "view_schedule"),
    ("audit", "view_auditevent"), ("audit", "view_dailyjobrollup"),
]
OPERATE = [
    ("jobs", "retry_jobrecord"), ("jobs", "cancel_jobrecord"), ("jobs", "pause_queue"),
    ("jobs", "add_schedule"), ("jobs", "change_schedule"), ("jobs", "delete_schedule"),
]
SCHEDULES = [
    {"name": "Nightly job rollup", "job_type": "audit.rollup", "payload": {}, "cron": "0 2 * * *"},
    {"name": "Audit retention (90 days)", "job_type": "audit.apply_retention", "payload": {"days": 90},
     "cron": "30 3 * * *"},
]


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permissions(pairs):
        return [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in pairs]

    viewers, _ = Group.objects.get_or_create(name="Job viewers")
    viewers.permissions.set(permissions(VIEW))
    operators, _ = Group.objects.get_or_create(name="Job operators")
    operators.permissions.set(permissions(VIEW + OPERATE))


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    now = datetime.now(timezone.utc)
    for spec in SCHEDULES:
        Schedule.objects.get_or_create(name=spec["name"], defaults={
            **spec, "timezone": "UTC", "enabled": True, "next_run_at": croniter(spec["cron"], now).get_next(datetime),
        })


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_admin_and_schedules"),
        ("audit", "0002_daily_rollup"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(create_schedules, migrations.RunPython.noop),
    ]
