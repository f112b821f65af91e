"""Batches in the admin (``jobs.batches``): progress, members, callback job, "retry dead members".

A completed batch shows what its row keeps (every member ended; how they ended when it completed), not
a count of the members still in the ledger: retention prunes members before it removes their batch."""

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from jobs import batches, services
from jobs.admin_display import ReadOnlyAdmin, job_link, status_badge
from jobs.models import TERMINAL_STATUSES, JobBatch, JobRecord, Status


@admin.register(JobBatch)
class JobBatchAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """A batch (``jobs.batches``): its progress, its members in the job list, its callback job, and
    "retry dead members". Seen by whoever may see jobs (``jobs.view_jobrecord``); nobody edits a batch."""

    list_display = ["id", "created_at", "progress", "callback_type", "completed_at", "callback_link", "guild"]
    list_select_related = ["guild"]
    ordering = ["-created_at"]
    show_full_result_count = False
    list_per_page = 50
    actions = ["retry_dead_members"]
    fields = ["id", "created_at", "progress", "counts", "members_link", "callback_type", "callback_payload",
              "completed_at", "callback_link", "actor", "guild", "correlation_id"]
    readonly_fields = fields

    def get_queryset(self, request):
        ended = (JobRecord.objects.filter(batch=OuterRef("pk"), status__in=TERMINAL_STATUSES).order_by()
                 .values("batch").annotate(n=Count("*")).values("n"))
        return super().get_queryset(request).annotate(ended=Coalesce(Subquery(ended), 0))

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("jobs.view_jobrecord")

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_retry_permission(self, request):
        return request.user.has_perm("jobs.retry_jobrecord")

    @admin.display(description="members ended")
    def progress(self, obj):
        # A completed batch's members had all ended, whether or not retention has pruned some since.
        return f"{obj.total if obj.completed_at else obj.ended}/{obj.total}"

    @admin.display(description="members by status")
    def counts(self, obj):
        if obj.succeeded_count is not None:
            # How the members had ended when the batch completed: kept on the batch, since members go.
            found = [(getattr(obj, column), status) for column, status in batches.ENDED_COUNTS if getattr(obj, column)]
            label = " (when the batch completed)"
        else:
            found, label = [(n, status) for status, n in sorted(batches.status_counts(obj.pk).items())], ""
        listed = format_html_join(", ", "{} {}", ((n, status_badge(status)) for n, status in found))
        return format_html("{}{}", listed, label) if listed else "-"

    @admin.display(description="members")
    def members_link(self, obj):
        url = reverse("admin:jobs_jobrecord_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">the {} jobs of this batch</a>', url, obj.total)

    @admin.display(description="callback job")
    def callback_link(self, obj):
        if obj.completed_at and not obj.callback_id:
            return "removed"
        return job_link(obj.callback_id)

    @admin.action(description="Retry the dead members of selected batches", permissions=["retry"])
    def retry_dead_members(self, request, queryset):
        retried = skipped = 0
        for record in JobRecord.objects.filter(batch__in=queryset.values("pk"), status=Status.DEAD):
            if services.retry_job(record, actor=request.user):
                retried += 1
            else:
                skipped += 1
        text = f"{retried} dead member(s) retried" + (f", {skipped} skipped: no longer dead" if skipped else "")
        self.message_user(request, text + ".", messages.SUCCESS if retried else messages.WARNING)
