"""What the admin pages show of a job, shared by the job, schedule and batch admins."""

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from jobs.backoff import Exponential, Fixed
from jobs.models import Status

STATUS_COLOURS = {
    Status.PENDING: "#8a6d3b", Status.QUEUED: "#31708f", Status.RUNNING: "#1f6fb2", Status.RETRYING: "#c77c02",
    Status.SUCCEEDED: "#2e7d32", Status.DEAD: "#b71c1c", Status.CANCELED: "#616161",
}


def status_badge(status, label=None):
    return format_html('<b class="job-status job-status-{}" style="color:{}">{}</b>', status,
                       STATUS_COLOURS.get(status, "#000"), label or status)


def job_link(job_id):
    """A link to the job's admin page, or "-" without one."""
    if not job_id:
        return "-"
    return format_html('<a href="{}">{}</a>', reverse("admin:jobs_jobrecord_change", args=[job_id]), job_id)


def to_the_millisecond(moment):
    """A time as staff on call compare them with logs: local date and time to the millisecond, and the zone."""
    if moment is None:
        return "-"
    local = timezone.localtime(moment)
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d} {local:%Z}"


def millisecond_time(field, description=None):
    """An admin display of the datetime ``field`` to the millisecond (Django's shows the minute)."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def show(self, obj):
        return to_the_millisecond(getattr(obj, field))

    return show


def seconds_in_words(seconds):
    """A delay as staff read it: "5 s", "1.5 s", "10 min", "1 h"; odd amounts in seconds ("90 s", "37.5 s"),
    never a bare number. None is "-"."""
    if seconds is None:
        return "-"
    seconds = round(float(seconds), 1)
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def backoff_in_words(policy):
    """A backoff policy in words, never its Python repr: "exponential: 2 s, ×2 each attempt, at most 1 h,
    with jitter", "fixed: 5 s", or a custom callable by its name ("custom: branding.tasks.SettingsBackoff")."""
    if isinstance(policy, Fixed):
        return f"fixed: {seconds_in_words(policy.seconds)}"
    if isinstance(policy, Exponential):
        return (f"exponential: {seconds_in_words(policy.base)}, ×{policy.factor:g} each attempt, "
                f"at most {seconds_in_words(policy.cap)}, {'with' if policy.jitter else 'no'} jitter")
    named = policy if hasattr(policy, "__qualname__") else type(policy)
    return f"custom: {named.__module__}.{named.__qualname__}"


class ReadOnlyAdmin:
    """For what the admin only shows (the ledger's batches, the audit log and its rollups): never added,
    changed or deleted there. Put before ``admin.ModelAdmin`` in the bases."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
