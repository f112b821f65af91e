"""Apply an action to every job matching the list's filter: it runs as a job itself, so that 100,000
jobs never time out a request."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from jobs import selectors
from jobs.enqueue import enqueue
from jobs.models import JobRecord
from jobs.signals import staff_action
from jobs.staff.base import _AdminPage

# action -> the permission it needs
BULK_ACTIONS = {
    "retry": "jobs.retry_jobrecord",
    "requeue": "jobs.retry_jobrecord",
    "cancel": "jobs.cancel_jobrecord",
    "delete": "jobs.delete_jobrecord",
}


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
        return self.render(request, filters=filters, query=request.GET.urlencode(),
                           count=matching.order_by()[:100_001].count(), actions=actions, chosen=chosen)

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
