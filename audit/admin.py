"""The audit log in the admin: read only. Events are append-only (``audit.models``): no change, no
delete, no delete action; retention is the only thing that removes them.

Built for a log of millions of events: exact-match search through indexes (``selectors.search_events``),
filters whose choices cost an index probe each (no ``SELECT DISTINCT`` over the log, no date hierarchy), and a paginator that
counts at most 10,000 rows. A correlation ID opens its whole timeline (``timeline_view``). Audit reports
(CSV of the rollup over a period) are asked for, listed and downloaded here.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from audit import selectors, services
from audit.models import AuditEvent, AuditReport, AuditRollup, DailyJobRollup
from jobs.admin_display import ReadOnlyAdmin
from jobs.admin_filters import CappedPaginator, GuildFilter
from jobs.errors import JobError


class ActionFilter(admin.SimpleListFilter):
    """The log's distinct actions through a loose index scan (``selectors.known_actions``)."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        actions = selectors.known_actions()
        if self.value() and self.value() not in actions:
            actions.append(self.value())
        return [(action, action) for action in actions]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class LogChangeList(ChangeList):
    """Sorts by the time only, even for a hand-made ``?o=``: any other order would sort the whole log."""

    def get_ordering_field(self, field_name):
        return super().get_ordering_field(field_name) if field_name == "created_at" else None


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    actions = None
    list_display = ["created_at", "action", "resource_type", "resource_id", "actor", "guild", "timeline_link"]
    list_filter = [ActionFilter, GuildFilter, ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=correlation_id"]  # see get_search_results: exact matches through indexes only
    search_help_text = ("Exact correlation ID; actor:<username>; guild:<slug>; a resource as <type>:<id> "
                        "(job:<uuid>, export:12). A bare username or guild slug works too.")
    list_select_related = ["actor", "guild"]
    ordering = ["-created_at", "-id"]
    sortable_by = ["created_at"]  # other columns would sort the whole log: no index serves them
    paginator = CappedPaginator
    show_full_result_count = False
    list_per_page = 50

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("timeline/<str:correlation_id>/", wrap(self.timeline_view), name="audit_timeline"),
            *super().get_urls(),
        ]

    def get_changelist(self, request, **kwargs):
        return LogChangeList

    def get_search_results(self, request, queryset, search_term):
        return selectors.search_events(queryset, search_term), False

    @admin.display(description="correlation ID")
    def timeline_link(self, obj):
        if not obj.correlation_id:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:audit_timeline", args=[obj.correlation_id]),
                           obj.correlation_id)

    def timeline_view(self, request, correlation_id):
        """One correlation ID's story in time order: the request's events, enqueues, attempts, child
        jobs, deliveries, e-mails, staff actions — every job and event that carries the ID."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        timeline = selectors.correlation_timeline(correlation_id)
        return TemplateResponse(request, "admin/audit/timeline.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "title": f"Timeline of {correlation_id}",
            "correlation_id": correlation_id, **timeline,
        })


@admin.register(DailyJobRollup)
class DailyJobRollupAdmin(admin.ModelAdmin):
    list_display = ["day", "job_type", "status", "count"]
    list_filter = ["status"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditRollup)
class AuditRollupAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Audit events per day, guild and action, as the nightly rollup (02:00 UTC) counted them."""

    list_display = ["day", "guild", "action", "count"]
    list_filter = [GuildFilter, ("day", admin.DateFieldListFilter)]
    search_fields = ["=action"]
    list_select_related = ["guild"]
    paginator = CappedPaginator
    show_full_result_count = False


class AuditReportForm(forms.ModelForm):
    class Meta:
        model = AuditReport
        fields = ["start", "end"]
        widgets = {"start": forms.DateInput(attrs={"type": "date"}), "end": forms.DateInput(attrs={"type": "date"})}
        help_texts = {"end": "Inclusive. At most 366 days."}

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            try:
                services.audit_report_period_validate(start, end)
            except JobError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return cleaned


@admin.register(AuditReport)
class AuditReportAdmin(admin.ModelAdmin):
    """Ask for a report of a period (``add``: its job writes the CSV), see it listed, download it.
    Asking needs ``audit.add_auditreport``, seeing and downloading ``audit.view_auditreport``."""

    form = AuditReportForm
    list_display = ["created_at", "start", "end", "requested_by", "job_status", "rows", "download_link"]
    list_select_related = ["requested_by", "job"]
    readonly_fields = ["start", "end", "requested_by", "job", "file_name", "rows", "size", "created_at",
                       "completed_at", "download_link"]
    paginator = CappedPaginator
    show_full_result_count = False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:report_id>/download/", wrap(self.download_view), name="audit_auditreport_download"),
            *super().get_urls(),
        ]

    def get_fields(self, request, obj=None):
        return ["start", "end"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """The report and its job, through the service (one transaction)."""
        report = services.audit_report_request(user=request.user, start=obj.start, end=obj.end)
        obj.pk, obj.created_at, obj.job_id, obj.requested_by = report.pk, report.created_at, report.job_id, request.user
        messages.info(request, "The report is being made; it can be downloaded from this list once ready.")

    def delete_model(self, request, obj):
        services.audit_report_delete(reports=[obj], actor=request.user)

    def delete_queryset(self, request, queryset):
        services.audit_report_delete(reports=queryset, actor=request.user)

    def log_addition(self, request, obj, message):
        return None  # the service audits the request (audit.report_requested)

    def response_add(self, request, obj, post_url_continue=None):
        from django.http import HttpResponseRedirect

        return HttpResponseRedirect(reverse("admin:audit_auditreport_changelist"))

    @admin.display(description="status")
    def job_status(self, obj):
        return obj.job.status if obj.job else "-"

    @admin.display(description="download")
    def download_link(self, obj):
        if not obj.ready:
            return "-"
        return format_html('<a href="{}">CSV</a>', reverse("admin:audit_auditreport_download", args=[obj.pk]))

    def download_view(self, request, report_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = AuditReport.objects.filter(pk=report_id).first()
        if report is None:
            raise Http404("no such report")
        try:
            handle = services.audit_report_open(report=report, user=request.user,
                                                correlation_id=getattr(request, "correlation_id", None))
        except JobError as exc:
            raise Http404(exc.message)
        return FileResponse(handle, as_attachment=True, content_type="text/csv",
                            filename=f"audit-report-{report.start}-{report.end}.csv")
