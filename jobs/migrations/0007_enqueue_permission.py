"""The permission to enqueue non-internal job types by hand, granted to the "Job operators" role."""

from django.db import migrations


def grant_to_operators(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("jobs")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="jobs", codename="enqueue_jobrecord")
    operators, _ = Group.objects.get_or_create(name="Job operators")
    operators.permissions.add(permission)


class Migration(migrations.Migration):

    dependencies = [
        ("jobs", "0006_partial_fk_indexes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="jobrecord",
            options={"ordering": ["-created_at"], "permissions": [
                ("retry_jobrecord", "Can retry jobs"), ("cancel_jobrecord", "Can cancel jobs"),
                ("pause_queue", "Can pause and resume queues"),
                ("enqueue_jobrecord", "Can enqueue jobs of non-internal types by hand (API, schedules)"),
            ]},
        ),
        migrations.RunPython(grant_to_operators, migrations.RunPython.noop),
    ]
