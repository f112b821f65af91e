"""django-rq's dashboard (``/admin/django-rq/``) under jobdesk's roles.

django-rq lets any staff member do anything there (``staff_member_required`` only): a "Job viewers"
member could requeue dead jobs (a staff retry, ``services.adopt_rq_requeue``), stop running ones,
delete jobs and empty queues. Here every page needs ``jobs.view_jobrecord`` (as the admin's own queue
pages do), and each write the permission of the same action in the admin: requeue needs retry, stop
needs cancel, deleting or emptying needs delete (superusers). Callers who are not staff still get
django-rq's own answer (the login page).

It also speaks of jobdesk's ledger, so the two never tell different stories:
- a requeue (one job, the selected ones, or "requeue all" failed jobs) first reopens each dead record
  in the ledger as a staff retry by the staff member who clicked (``services.adopt_rq_requeue``), so the
  audit log names them; the worker that runs it then finds it queued;
- a job's page links to its record in jobdesk's admin (``templates/django_rq/job_detail.html``);
- jobdesk keeps its schedules in the ledger, not in rq-scheduler: the dashboard lists them in place of
  rq-scheduler's panel (which showed the connection as ``NOHOST:6379/0``), and that panel's page leads
  to the admin's Schedules (``templates/django_rq/stats.html``)."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import URLPattern
from django_rq.queues import get_queue_by_index
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

from jobs import services

VIEW = "jobs.view_jobrecord"
RETRY = "jobs.retry_jobrecord"
CANCEL = "jobs.cancel_jobrecord"
DELETE = "jobs.delete_jobrecord"

# django-rq's view (function name) -> the permission a POST to it needs
WRITES = {
    "requeue_job_view": RETRY, "enqueue_job": RETRY, "requeue_all": RETRY,
    "stop_job": CANCEL,
    "delete_job": DELETE, "clear_queue": DELETE, "delete_failed_jobs": DELETE,
    "confirm_action": VIEW,  # only shows the confirmation page; "actions" does the work
}
# the bulk "actions" view: its POSTed action -> the permission (an unknown action needs the most)
ACTIONS = {"requeue": RETRY, "stop": CANCEL, "delete": DELETE}


def permission_needed(view_name, request):
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return VIEW
    if view_name == "actions":
        return ACTIONS.get(request.POST.get("action"), DELETE)
    return WRITES.get(view_name, DELETE)


def with_roles(view):
    name = view.__name__

    @wraps(view)
    def guarded(request, *args, **kwargs):
        user = request.user
        if not (user.is_active and user.is_staff):
            return view(request, *args, **kwargs)  # django-rq's own answer: its login page
        if not user.has_perm(permission_needed(name, request)):
            raise PermissionDenied(f"needs the permission {permission_needed(name, request)}")
        if name == "scheduler_jobs":
            return redirect("admin:jobs_schedule_changelist")
        if request.method == "POST":
            for job_id in requeued_ids(name, request, **kwargs):
                services.adopt_rq_requeue(job_id, actor=user, reason="requeued in RQ from django-rq's dashboard")
        return view(request, *args, **kwargs)

    return guarded


def requeued_ids(view_name, request, queue_index=None, job_id=None, **kwargs) -> list[str]:
    """The RQ jobs a POST to django-rq's ``view_name`` is about to requeue (none for other views)."""
    if view_name == "requeue_job_view":
        return [job_id]
    if view_name == "actions" and request.POST.get("action") == "requeue":
        return request.POST.getlist("job_ids")
    if view_name == "requeue_all":
        return get_queue_by_index(queue_index).failed_job_registry.get_job_ids()
    return []


def with_view_permission(view):
    """django-rq's JSON and Prometheus views answer any staff member (or its API token): staff also need
    ``jobs.view_jobrecord`` here; a caller who is not staff still gets django-rq's own check."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        user = request.user
        if user.is_active and user.is_staff and not user.has_perm(VIEW):
            return JsonResponse({"error": "forbidden", "message": f"needs the permission {VIEW!r}"}, status=403)
        return view(request, *args, **kwargs)

    return guarded


urlpatterns = [
    URLPattern(pattern.pattern, with_view_permission(pattern.callback), pattern.default_args, pattern.name)
    for pattern in get_api_urlpatterns()
] + get_admin_urlpatterns(view_wrapper=with_roles)
