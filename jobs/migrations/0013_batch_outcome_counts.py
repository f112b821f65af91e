"""``JobBatch.succeeded_count``, ``dead_count``, ``canceled_count``: how a batch's members had ended when
it completed, written by the completing UPDATE (``jobs.batches``), so that the admin shows a completed
batch's outcome after retention has pruned its members. Nullable columns without a default: adding them
rewrites no rows.

Batches completed before this migration get their counts from their members where every member is still
in the ledger (one UPDATE over the batch table); where retention already pruned some, the counts stay
empty (unknown). A completed batch whose members and callback retention already pruned is removed, as
``jobs.retention`` now removes such a batch in the pass that prunes the last of them."""

from django.db import migrations, models
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce


def count_and_drop(apps, schema_editor):
    JobBatch = apps.get_model("jobs", "JobBatch")
    JobRecord = apps.get_model("jobs", "JobRecord")
    db = schema_editor.connection.alias

    def members(**status):
        rows = (JobRecord.objects.using(db).filter(batch_id=OuterRef("pk"), **status).order_by()
                .values("batch_id").annotate(n=Count("*")).values("n"))
        return Coalesce(Subquery(rows), 0)

    completed = JobBatch.objects.using(db).filter(completed_at__isnull=False)
    whole = completed.alias(kept=members()).filter(kept=F("total")).values("pk")
    completed.filter(pk__in=whole).update(succeeded_count=members(status="succeeded"),
                                          dead_count=members(status="dead"),
                                          canceled_count=members(status="canceled"))
    any_member = JobRecord.objects.using(db).filter(batch_id=OuterRef("pk"))
    completed.filter(Q(callback__isnull=True), ~Exists(any_member)).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0012_schedule_last_error'),
    ]

    operations = [
        migrations.AddField(
            model_name='jobbatch',
            name='succeeded_count',
            field=models.PositiveIntegerField(blank=True, help_text='Members that had succeeded when the batch completed.', null=True),
        ),
        migrations.AddField(
            model_name='jobbatch',
            name='dead_count',
            field=models.PositiveIntegerField(blank=True, help_text='Members that were dead when the batch completed.', null=True),
        ),
        migrations.AddField(
            model_name='jobbatch',
            name='canceled_count',
            field=models.PositiveIntegerField(blank=True, help_text='Members that were canceled when the batch completed.', null=True),
        ),
        migrations.RunPython(count_and_drop, migrations.RunPython.noop),
    ]
