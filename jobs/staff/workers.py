"""The workers page: each RQ worker's name, host, pid, queues, state, current job, jobs done and failed,
and last heartbeat; a worker that stopped beating shows as gone. It refreshes itself like the queues
page (htmx, every ``ADMIN_REFRESH_SECONDS``)."""

from django.conf import settings
from django.core.exceptions import PermissionDenied
from redis.exceptions import RedisError

from jobs import selectors
from jobs.staff.base import _AdminPage


class WorkersView(_AdminPage):
    template = "admin/jobs/workers.html"
    title = "Workers"

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        try:
            rows, error = selectors.workers_overview(), None
        except RedisError as exc:
            rows, error = [], f"Redis unavailable: {exc}"
        if request.htmx:
            self.template = "admin/jobs/_workers_live.html"
        return self.render(request, rows=rows, error=error, refresh=settings.ADMIN_REFRESH_SECONDS,
                           lifetime=settings.QUEUE_JOB_HEARTBEAT + settings.QUEUE_HEARTBEAT_GRACE)
