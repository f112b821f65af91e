"""Branding's permissions in the staff roles: both roles see the shard registry, brandings and fan-outs;
"Job operators" may also retry a fan-out's failed shards. Adding or editing shards (their secrets) is
for superusers. Idempotent (get_or_create, add)."""

from django.db import migrations

VIEW = [("branding", "view_botshard"), ("branding", "view_guildbranding"), ("branding", "view_fanout"),
        ("branding", "view_sharddelivery")]
ROLES = {"Job viewers": VIEW, "Job operators": VIEW + [("branding", "retry_fanout")]}


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("branding")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, pairs in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(*[Permission.objects.get(content_type__app_label=app, codename=codename)
                                for app, codename in pairs])


class Migration(migrations.Migration):
    dependencies = [
        ("branding", "0001_initial"),
        ("jobs", "0003_roles_and_builtin_schedules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
