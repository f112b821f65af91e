"""The ledger in the Django admin: find a job, see why it failed, retry, cancel, requeue or delete it.

Every action is permission-checked (``@admin.action(permissions=...)``: staff without the permission do
not see it, and a forged POST is refused), destructive ones ask for confirmation, each reports counts,
and each job it touches gets an audit event naming the staff member. The queues, dead-letter and
"every matching job" pages live in the ``jobs.staff`` package.
"""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from jobs import options, registry, selectors, services
from jobs.errors import JobError
from jobs.admin_filters import CappedPaginator, ErrorTypeFilter, GuildFilter, JobTypeFilter, QueueFilter
from jobs.admin_display import backoff_in_words, millisecond_time, status_badge
from jobs.models import TERMINAL_STATUSES, JobAttempt, JobRecord
from jobs.staff import bulk, dead_letters, job_list, job_page, queues as queues_page, workers

class JobNotFinished(Exception):
    """The service refused to delete a job that is not finished (it moved after the page was read)."""

    def __init__(self, pk, status):
        super().__init__(f"job {pk} is {status}")
        self.pk, self.status = pk, status


# The timeline's moments, shown to the millisecond.
TIMES = ["created_at", "run_at", "queued_at", "started_at", "retrying_at", "succeeded_at", "dead_at", "canceled_at"]


class JobAttemptInline(admin.StackedInline):
    model = JobAttempt
    extra = 0
    can_delete = False
    fields = ["number", "outcome", "worker", "started", "ended", "retry_delay_display", "error_type",
              "error_message", "traceback_pre"]
    readonly_fields = fields
    started = millisecond_time("started_at", "started at")
    ended = millisecond_time("ended_at", "ended at")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="retry delay")
    def retry_delay_display(self, obj):
        """The backoff this attempt's failure waited before the next attempt, in seconds as the logs say it."""
        return "-" if obj.retry_delay is None else f"{round(obj.retry_delay, 1):g} s"

    @admin.display(description="traceback")
    def traceback_pre(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.traceback) if obj.traceback else "-"


@admin.register(JobRecord)
class JobRecordAdmin(admin.ModelAdmin):
    # Fits a 1366-px screen, action checkboxes included: short ids and names (the full one on hover, and
    # search takes the id), dotted names that wrap at their dots, compact times, tight cells (jobs/list.css).
    list_display = ["short_id", "short_job_type", "short_queue", "colored_status", "attempts_display",
                    "short_guild", "short_actor", "short_correlation_id", "created", "duration_display"]
    list_filter = ["status", QueueFilter, JobTypeFilter, GuildFilter, ErrorTypeFilter,
                   ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=id"]  # see get_search_results: exact matches through indexes only
    search_help_text = "Exact job id, correlation ID, job type or guild slug."
    list_select_related = ["guild", "actor"]
    ordering = ["-created_at"]
    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50
    actions = ["retry_selected", "cancel_selected", "requeue_selected", "delete_selected"]
    inlines = [JobAttemptInline]
    readonly_fields = ["id", "job_type", "queue", "priority", "status_badge", "status_reason", "attempts",
                       "max_attempts", "correlation_id", "actor", "guild", "parent", "batch",
                       "progress", "progress_message", "result_pretty", "last_error_type", "last_error", "worker", *(f"{name}_ms" for name in TIMES), "payload_pretty", "limits",
                       "unique_display"]
    fieldsets = [
        (None, {"fields": ["id", "job_type", "status_badge", "status_reason", "queue", "priority", "correlation_id",
                           "actor", "guild", "parent", "batch"]}),
        ("Progress and outcome", {"fields": ["progress", "progress_message", "attempts", "max_attempts",
                                             "result_pretty", "last_error_type", "last_error", "worker"]}),
        ("Limits", {"fields": ["limits", "unique_display"]}),
        ("Payload", {"fields": ["payload_pretty"]}),
        ("Timeline", {"fields": [f"{name}_ms" for name in TIMES],
                      "description": "Local times to the millisecond, as in the logs."}),
    ]
    created_at_ms, run_at_ms, queued_at_ms, started_at_ms, retrying_at_ms, succeeded_at_ms, dead_at_ms, \
        canceled_at_ms = (millisecond_time(name) for name in TIMES)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("queues/", wrap(queues_page.QueuesView.as_view(model_admin=self)), name="jobs_queues"),
            path("dead-letters/", wrap(dead_letters.DeadLettersView.as_view(model_admin=self)), name="jobs_dead_letters"),
            path("bulk/", wrap(bulk.BulkActionView.as_view(model_admin=self)), name="jobs_bulk"),
            path("workers/", wrap(workers.WorkersView.as_view(model_admin=self)), name="jobs_workers"),
            path("live-rows/", wrap(job_list.LiveRowsView.as_view(model_admin=self)), name="jobs_live_rows"),
            path("<path:object_id>/live/", wrap(job_page.JobLiveView.as_view(model_admin=self)),
                 name="jobs_jobrecord_live"),
            path("<path:object_id>/act/", wrap(job_page.JobActionView.as_view(model_admin=self)),
                 name="jobs_jobrecord_act"),
            *super().get_urls(),
        ]

    def get_search_results(self, request, queryset, search_term):
        return selectors.search_jobs(queryset, search_term), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("jobs.retry_jobrecord")

    def has_cancel_permission(self, request):
        return request.user.has_perm("jobs.cancel_jobrecord")

    # Every delete goes through services.delete_jobs (finished jobs only, Redis cleaned, audited with the
    # staff member): the job page's "Delete" as well as the actions. Who may delete is Django's
    # delete_jobrecord permission, which no role grants: superusers.
    def delete_view(self, request, object_id, extra_context=None):
        """The job page's delete: a job that has not finished is refused with a message (cancel it
        first); a finished one gets Django's confirmation page, then ``delete_model``."""
        record = self.get_object(request, unquote(object_id))
        if record is not None and record.status not in TERMINAL_STATUSES and self.has_delete_permission(request, record):
            return self._delete_refused(request, record.pk, record.status)
        try:
            return super().delete_view(request, object_id, extra_context)
        except JobNotFinished as exc:  # from delete_model: the job moved since; Django's log entry rolled back
            return self._delete_refused(request, exc.pk, exc.status)

    def _delete_refused(self, request, pk, status):
        self.message_user(request, f"Job {pk} was not deleted: it is {status}, and only finished jobs "
                                   "(succeeded, dead, canceled) can be deleted. Cancel it first.", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:jobs_jobrecord_change", args=[pk]))

    def delete_model(self, request, obj):
        if not services.delete_jobs(JobRecord.objects.filter(pk=obj.pk), actor=request.user):
            status = JobRecord.objects.filter(pk=obj.pk).values_list("status", flat=True).first() or "gone"
            raise JobNotFinished(obj.pk, status)

    def delete_queryset(self, request, queryset):
        services.delete_jobs(queryset.select_related(None), actor=request.user)

    def response_delete(self, request, obj_display, obj_id):
        """Back to the job list (Django would go to the admin's index: staff do not "change" jobs)."""
        response = super().response_delete(request, obj_display, obj_id)
        if isinstance(response, HttpResponseRedirect):
            response = HttpResponseRedirect(reverse("admin:jobs_jobrecord_changelist"))
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = selectors.job_detail(object_id)
        if record is not None:
            extra_context = {**(extra_context or {}), **job_page.job_page_context(record, request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "bulk_query": request.GET.urlencode(),
                         "can_bulk": bulk.bulk_actions_allowed(request), "refresh": settings.ADMIN_REFRESH_SECONDS,
                         # The app list beside the job list would squeeze its columns on a 1366-px screen.
                         "is_nav_sidebar_enabled": False}
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        # The list's rows bring their attempts' times (one query for the page; the capped count ignores
        # it), for the last attempt's duration.
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if request.method == "GET" and match is not None and match.url_name == "jobs_jobrecord_changelist":
            queryset = queryset.prefetch_related(selectors.attempt_times())
        return queryset

    @admin.display(description="id", ordering="id")
    def short_id(self, obj):
        return job_list.short(obj.pk)

    @admin.display(description="job type", ordering="job_type")
    def short_job_type(self, obj):
        return job_list.breakable(obj.job_type)

    @admin.display(description="queue", ordering="queue")
    def short_queue(self, obj):
        return job_list.without_namespace(obj.queue)

    @admin.display(description="guild", ordering="guild")
    def short_guild(self, obj):
        return job_list.short(obj.guild, 14) if obj.guild_id else "-"

    @admin.display(description="actor", ordering="actor")
    def short_actor(self, obj):
        return job_list.short(obj.actor, 14) if obj.actor_id else "-"

    @admin.display(description="correlation ID")
    def short_correlation_id(self, obj):
        return job_list.short(obj.correlation_id, 12)

    @admin.display(description="created", ordering="created_at")
    def created(self, obj):
        return job_list.when(obj.created_at)

    @admin.display(description="status", ordering="status")
    def colored_status(self, obj):
        return job_list.live_cell(obj, "status")

    @admin.display(description="duration")
    def duration_display(self, obj):
        return job_list.live_cell(obj, "duration")

    @admin.display(description="status")
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="why")
    def status_reason(self, obj):
        """The last change's reason, and the staff member who made it, if one did."""
        note = obj.status_note or {}
        reason = note.get("reason") or "—"
        actor_id = note.get("actor_id")
        if not actor_id:
            return reason
        username = get_user_model().objects.filter(pk=actor_id).values_list("username", flat=True).first()
        return f"{reason} (by {username or f'user #{actor_id}'})"

    @admin.display(description="attempts")
    def attempts_display(self, obj):
        return job_list.live_cell(obj, "attempts")

    @admin.display(description="timeout and detection")
    def limits(self, obj):
        """The job's timeout and backoff (its own when its enqueue gave them, else its type's) and how soon
        a lost attempt is noticed: heartbeat, plus grace, plus at most one reconciler interval."""
        try:
            job_type = registry.get(obj.job_type)
        except JobError:
            return "unknown job type"
        own = obj.options or {}
        timeout = options.timeout_of(obj, job_type)
        beat, grace, tick = settings.QUEUE_JOB_HEARTBEAT, settings.QUEUE_HEARTBEAT_GRACE, settings.JOBS_SYSTEM_INTERVAL
        return format_html(
            "timeout {} s ({}); backoff {} ({})<br>heartbeat every {} s; a lost attempt is detected within {} s "
            "(heartbeat {} + grace {} + reconciler interval {})",
            timeout, "this job's" if "timeout" in own else "the type's",
            backoff_in_words(options.backoff_of(obj, job_type)), "this job's" if "backoff" in own else "the type's",
            beat, beat + grace + tick, beat, grace, tick)

    @admin.display(description="unique key")
    def unique_display(self, obj):
        if not obj.unique_key:
            return "-"
        scope = f"until {obj.unique_until:%Y-%m-%d %H:%M:%S}" if obj.unique_until else f"while {obj.unique_scope}"
        return f"{obj.unique_key} ({scope})"

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    @admin.display(description="result")
    def result_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.result, indent=2, sort_keys=True)) if obj.result else "-"

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

    def _confirm(self, request, queryset, action, title):
        """The "are you sure" page of a destructive action; None once the staff member confirmed."""
        if request.POST.get("confirmed") == "yes":
            return None
        return TemplateResponse(request, "admin/jobs/jobrecord/action_confirm.html", {
            **self.admin_site.each_context(request), "title": title, "action": action, "records": queryset[:100],
            "count": queryset.count(), "opts": self.model._meta, "selected": request.POST.getlist("_selected_action"),
        })

    @admin.action(description="Retry selected jobs", permissions=["retry"])
    def retry_selected(self, request, queryset):
        self._apply(request, queryset, services.retry_job, "retried", "still")

    @admin.action(description="Requeue selected jobs now (skip their backoff or delay)", permissions=["retry"])
    def requeue_selected(self, request, queryset):
        self._apply(request, queryset, services.requeue_job, "requeued now", "not waiting:")

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_selected(self, request, queryset):
        confirm = self._confirm(request, queryset, "cancel_selected", "Cancel these jobs?")
        if confirm is not None:
            return confirm
        self._apply(request, queryset, services.cancel_job, "canceled", "already")

    @admin.action(description="Delete selected finished jobs", permissions=["delete"])
    def delete_selected(self, request, queryset):
        confirm = self._confirm(request, queryset, "delete_selected", "Delete these jobs and their attempts?")
        if confirm is not None:
            return confirm
        total = queryset.count()
        # The changelist's queryset joins guild and actor (list_select_related); the service reads only
        # a few columns, and Django refuses to defer a field it is told to join (FieldError, a 500).
        deleted = services.delete_jobs(queryset.select_related(None), actor=request.user)
        text = f"{deleted} deleted"
        if total - deleted:
            text += f", {total - deleted} skipped: not finished"
        self.message_user(request, text + ".", messages.SUCCESS if deleted else messages.WARNING)


# The schedule and batch admins register themselves; importing them here puts them in the admin.
from jobs import admin_batches, admin_schedules  # noqa: E402, F401
