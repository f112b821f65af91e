"""The "Job viewers" and "Job operators" groups with the engine's permissions.

Each app's migrations seed their own rows: the audit app adds its view permissions to these groups and
its built-in schedules (the nightly rollup, audit retention) in ``audit`` migration 0006; ``exports``
adds its schedule in its 0002. (This migration once seeded the audit ones too; the end state is the same.)
"""

from django.db import migrations

VIEW = [("jobs", "view_jobrecord"), ("jobs", "view_jobattempt"), ("jobs", "view_schedule")]
OPERATE = [
    ("jobs", "retry_jobrecord"), ("jobs", "cancel_jobrecord"), ("jobs", "pause_queue"),
    ("jobs", "add_schedule"), ("jobs", "change_schedule"), ("jobs", "delete_schedule"),
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


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_admin_and_schedules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]
