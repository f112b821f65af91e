"""Idempotency-Key becomes a database constraint per guild and key, with the request's hash beside it.

Before the constraint can be added, keys that concurrent requests used twice (the check-then-insert race)
are kept on the oldest export of each guild and key and cleared on the others; those exports and their
jobs stay as they are.
"""

from django.db import migrations, models
from django.db.models import Count, Min


def keep_each_key_once(apps, schema_editor):
    Export = apps.get_model("exports", "Export")
    duplicated = (Export.objects.exclude(idempotency_key="").values("guild_id", "idempotency_key")
                  .annotate(n=Count("pk"), first=Min("pk")).filter(n__gt=1))
    for row in duplicated:
        (Export.objects.filter(guild_id=row["guild_id"], idempotency_key=row["idempotency_key"])
         .exclude(pk=row["first"]).update(idempotency_key=""))


class Migration(migrations.Migration):

    dependencies = [("exports", "0002_retention_schedule")]

    operations = [
        migrations.AddField(
            model_name="export",
            name="request_hash",
            field=models.CharField(blank=True, help_text="SHA-256 of the request (canonical JSON) that used the key.",
                                   max_length=64),
        ),
        migrations.AlterField(
            model_name="export",
            name="idempotency_key",
            field=models.CharField(blank=True, help_text="The API caller's Idempotency-Key: unique per guild (24 hours).",
                                   max_length=100),
        ),
        migrations.RemoveIndex(model_name="export", name="export_idempotency_idx"),
        migrations.RunPython(keep_each_key_once, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="export",
            constraint=models.UniqueConstraint(condition=models.Q(("idempotency_key", ""), _negated=True),
                                               fields=("guild", "idempotency_key"),
                                               name="export_idempotency_key_unique"),
        ),
    ]
