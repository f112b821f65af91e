"""The notifications app's own rows: view permissions on endpoints, deliveries and dead-letter digests
for the "Job viewers" and "Job operators" roles (on call, they read what was sent), and the built-in
"Dead-letter digest" schedule (job type ``notifications.dlq_digest``, every 60 s; the digest itself goes
at most once per job type per NOTIFICATIONS_DLQ_DIGEST_SECONDS). Idempotent: a schedule staff edited or
disabled is left as it is."""

from datetime import datetime, timedelta, timezone

from django.db import migrations

VIEWS = [("notifications", "view_webhookendpoint"), ("notifications", "view_webhookdelivery"),
         ("notifications", "view_deadletterdigest")]
ROLES = {"Job viewers": VIEWS, "Job operators": VIEWS}
SCHEDULE = {"name": "Dead-letter digest", "job_type": "notifications.dlq_digest", "payload": {},
            "interval_seconds": 60}


def grant_views(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("notifications")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, pairs in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*[Permission.objects.get(content_type__app_label=app, codename=codename)
                                for app, codename in pairs])


def revoke_views(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="notifications",
                                            codename__in=[codename for _, codename in VIEWS])
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    Schedule.objects.get_or_create(name=SCHEDULE["name"], defaults={
        **SCHEDULE, "timezone": "UTC", "enabled": True,
        "next_run_at": datetime.now(timezone.utc) + timedelta(seconds=SCHEDULE["interval_seconds"]),
    })


def remove_schedule(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.filter(name=SCHEDULE["name"], job_type=SCHEDULE["job_type"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("jobs", "0010_batches"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(grant_views, revoke_views),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
