"""The ledger in the Django admin: find a job, see why it failed, retry or cancel it."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from jobs import services
from jobs.models import JobAttempt, JobRecord, Status

STATUS_COLOURS = {
    Status.PENDING: "#8a6d3b", Status.QUEUED: "#31708f", Status.RUNNING: "#1f6fb2", Status.RETRYING: "#c77c02",
    Status.SUCCEEDED: "#2e7d32", Status.DEAD: "#b71c1c", Status.CANCELED: "#616161",
}


class JobAttemptInline(admin.TabularInline):
    model = JobAttempt
    extra = 0
    can_delete = False
    fields = ["number", "outcome", "worker", "started_at", "ended_at", "error_type", "error_message", "traceback"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    list_display = ["id", "job_type", "queue", "colored_status", "attempts_display", "guild", "actor",
                    "correlation_id", "created_at", "duration"]
    list_filter = ["status", "priority", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=id", "=correlation_id", "=job_type"]
    list_select_related = ["guild", "actor"]
    ordering = ["-created_at"]
    show_full_result_count = False
    actions = ["retry_selected", "cancel_selected"]
    inlines = [JobAttemptInline]
    readonly_fields = [f.name for f in JobRecord._meta.fields] + ["payload_pretty"]
    exclude = ["payload"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("jobs.retry_jobrecord")

    def has_cancel_permission(self, request):
        return request.user.has_perm("jobs.cancel_jobrecord")

    @admin.display(description="status", ordering="status")
    def colored_status(self, obj):
        return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(obj.status, "#000"), obj.get_status_display())

    @admin.display(description="attempts")
    def attempts_display(self, obj):
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def _apply(self, request, queryset, service, verb, skipped_as):
        """Call ``service`` on each selected job and report counts, with why the others were skipped."""
        acted, skipped = 0, {}
        for record in queryset:
            if service(record, actor=request.user):
                acted += 1
            else:
                why = f"{skipped_as} {record.status}"
                skipped[why] = skipped.get(why, 0) + 1
        text = f"{acted} {verb}"
        if skipped:
            text += ", " + ", ".join(f"{n} skipped: {why}" for why, n in sorted(skipped.items()))
        self.message_user(request, text + ".", messages.SUCCESS if acted else messages.WARNING)

    @admin.action(description="Retry selected jobs", permissions=["retry"])
    def retry_selected(self, request, queryset):
        self._apply(request, queryset, services.retry_job, "retried", "still")

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        self._apply(request, queryset, services.cancel_job, "canceled", "already")
