"""The queues page: per queue its counts, workers and state, with pause and resume; its counts and
"paused" badges refresh themselves (htmx, every ``ADMIN_REFRESH_SECONDS``)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import reverse
from redis.exceptions import RedisError

from jobs import queues, ratelimit
from jobs.errors import JobError
from jobs.readiness import redis_durability_warnings
from jobs.staff.base import _AdminPage
from jobs.staff.charts import queue_charts


class QueuesView(_AdminPage):
    template = "admin/jobs/queues.html"
    title = "Queues"

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        try:
            rows, rates, error = queues.queue_overview(), ratelimit.overview(), None
            warnings = redis_durability_warnings()
        except RedisError as exc:
            rows, rates, error, warnings = [], [], f"Redis unavailable: {exc}", []
        charts = {}
        if request.htmx:  # the live part alone, every ADMIN_REFRESH_SECONDS; the charts change by the minute
            self.template = "admin/jobs/_queues_live.html"
        else:
            charts = queue_charts()
        return self.render(request, rows=rows, rates=rates, error=error, warnings=warnings,
                           can_pause=request.user.has_perm("jobs.pause_queue"), django_rq_url=reverse("django_rq:home"),
                           refresh=settings.ADMIN_REFRESH_SECONDS, **charts)

    def post(self, request):
        if not request.user.has_perm("jobs.pause_queue"):
            raise PermissionDenied
        name, action = request.POST.get("queue", ""), request.POST.get("action")
        try:
            if action == "pause":
                changed = queues.queue_pause(name, actor=request.user)
            elif action == "resume":
                changed = queues.queue_resume(name, actor=request.user)
            else:
                raise JobError("action must be pause or resume", field="action")
        except JobError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Queue {name} {action}d." if changed else f"Queue {name} was already {action}d.")
        return HttpResponseRedirect(request.path)
