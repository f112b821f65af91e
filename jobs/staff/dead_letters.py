"""Dead letters grouped by cause, each group linked to its jobs, to "retry this group" and to "retry every
dead job of this type" (each confirmed on the bulk page, which runs it as a job)."""

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.urls import reverse

from jobs import selectors
from jobs.staff.base import _AdminPage


class DeadLettersView(_AdminPage):
    template = "admin/jobs/dead_letters.html"
    title = "Dead letters"

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        groups = selectors.dead_letter_groups()
        changelist = reverse("admin:jobs_jobrecord_changelist")
        for group in groups:
            group["filters"] = {"status__exact": "dead", "job_type": group["job_type"],
                                "last_error_type": group["last_error_type"]}
            group["query"] = urlencode(group["filters"])
            group["changelist_url"] = f"{changelist}?{group['query']}"
            group["type_query"] = urlencode({"status__exact": "dead", "job_type": group["job_type"]})
        per_type = {}
        for group in groups:
            per_type[group["job_type"]] = per_type.get(group["job_type"], 0) + group["count"]
        for group in groups:  # "every dead job of this type", whatever its error, beside the group's own
            group["type_count"] = per_type[group["job_type"]]
        return self.render(request, groups=groups, can_retry=request.user.has_perm("jobs.retry_jobrecord"))
