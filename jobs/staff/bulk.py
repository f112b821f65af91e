"""Apply an action to every job matching the list's filter: it runs as a job itself, so that 100,000
jobs never time out a request.

The confirmation page says the filter in words and, for each action, how many of the matching jobs it
applies to (retry and delete: finished ones; cancel: unfinished ones; requeue: waiting ones with a delay
or backoff left, and pending ones), so that "Retry 301 jobs" is never offered for 301 queued jobs that it
would all skip. An action that applies to none of them is named, not offered.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from jobs import selectors
from jobs.enqueue import enqueue
from jobs.models import TERMINAL_STATUSES, JobRecord, Status
from jobs.signals import staff_action
from jobs.staff.base import _AdminPage

# action -> the permission it needs
BULK_ACTIONS = {
    "retry": "jobs.retry_jobrecord",
    "requeue": "jobs.retry_jobrecord",
    "cancel": "jobs.cancel_jobrecord",
    "delete": "jobs.delete_jobrecord",
}


# What each action applies to (as ``jobs.services`` decides it, job by job), and how to say so.
APPLIES_TO = {
    "retry": (Q(status__in=TERMINAL_STATUSES), "finished jobs (succeeded, dead, canceled)"),
    "delete": (Q(status__in=TERMINAL_STATUSES), "finished jobs (succeeded, dead, canceled)"),
    "cancel": (~Q(status__in=TERMINAL_STATUSES), "unfinished jobs"),
    "requeue": (Q(status=Status.PENDING) | Q(status__in=[Status.QUEUED, Status.RETRYING], run_at__isnull=False),
                "pending jobs and those waiting out a delay or backoff"),
}

# The changelist's filter parameters as staff read them.
FILTER_WORDS = {"status__exact": "status", "queue": "queue", "job_type": "type", "guild": "guild",
                "last_error_type": "error type", "created_at__gte": "created from", "created_at__lt": "created before",
                "q": "search"}

COUNT_CAP = 100_000


def filters_in_words(filters):
    """``[(label, value)]``: "status: dead", "type: demo.broken_branding", "guild: <its name>"."""
    from project.models import Guild

    words = []
    for name, value in filters.items():
        if name == "guild":
            value = Guild.objects.filter(pk=value).values_list("name", flat=True).first() or value
        words.append((FILTER_WORDS.get(name, name), value))
    return words


def _capped_count(queryset):
    return queryset.order_by()[:COUNT_CAP + 1].count()


def action_counts(matching, actions, count):
    """``[{"name", "applies", "to", "all"}]``: how many of the ``count`` matching jobs each action applies
    to, a count capped at ``COUNT_CAP`` like ``count`` (retry and delete share theirs)."""
    rows, counted = [], {}
    for action in actions:
        condition, to = APPLIES_TO[action]
        if to not in counted:
            counted[to] = _capped_count(matching.filter(condition)) if count else 0
        rows.append({"name": action, "applies": counted[to], "to": to, "all": counted[to] == count})
    return rows


def bulk_actions_allowed(request):
    return [action for action, perm in BULK_ACTIONS.items() if request.user.has_perm(perm)]


class BulkActionView(_AdminPage):
    """GET: how many jobs match and which actions the staff member may apply. POST with ``confirmed``:
    enqueue ``jobs.bulk_action`` and send the staff member to its job page, where progress shows. A filter
    whose value cannot select jobs (``guild=abc``) is named on a 400 page, and nothing is enqueued."""

    template = "admin/jobs/bulk_confirm.html"
    title = "Apply an action to every matching job"

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        filters = selectors.bulk_filters(request.GET)
        problems = selectors.jobs_filter_problems(filters)
        if problems:
            return self.refuse(request, problems)
        matching = selectors.jobs_matching(filters)
        actions, chosen = bulk_actions_allowed(request), request.GET.get("action", "")
        if chosen in actions:  # one action asked for (the dead-letter group's "retry all"): only its button
            actions = [chosen]
        count = _capped_count(matching)
        return self.render(request, filters=filters, filter_words=filters_in_words(filters),
                           query=request.GET.urlencode(), count=count, actions=actions,
                           offers=action_counts(matching, actions, count), chosen=chosen)

    def post(self, request):
        action = request.POST.get("action", "")
        if action not in BULK_ACTIONS or not request.user.has_perm(BULK_ACTIONS[action]):
            raise PermissionDenied
        filters = selectors.bulk_filters(request.POST)
        problems = selectors.jobs_filter_problems(filters)
        if problems:
            return self.refuse(request, problems)
        if request.POST.get("confirmed") != "yes":
            messages.warning(request, "Nothing done: the action was not confirmed.")
            return HttpResponseRedirect(reverse("admin:jobs_jobrecord_changelist"))
        record = enqueue("jobs.bulk_action", {"action": action, "filters": filters}, actor=request.user)
        staff_action.send(sender=JobRecord, actor=request.user, action=f"jobs.bulk_{action}", resource_type="job",
                          resource_id=record.pk, data={"filters": filters})
        messages.success(request, f"The {action} of every matching job runs as job {record.pk}; "
                                  "its progress shows here.")
        return HttpResponseRedirect(reverse("admin:jobs_jobrecord_change", args=[record.pk]))

    def refuse(self, request, problems):
        """The admin's bare page (header, title, messages) naming each unusable filter, with a 400."""
        for problem in problems.values():
            messages.error(request, f"Nothing done: {problem}.")
        return TemplateResponse(request, "admin/base_site.html", {
            **self.model_admin.admin_site.each_context(request), "opts": JobRecord._meta,
            "title": "These filters cannot select jobs"}, status=400)
