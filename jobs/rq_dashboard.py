"""django-rq's dashboard (``/admin/django-rq/``) under jobdesk's roles.

django-rq lets any staff member do anything there (``staff_member_required`` only): a "Job viewers"
member could requeue dead jobs (a staff retry, ``services.adopt_rq_requeue``), stop running ones,
delete jobs and empty queues. Here every page needs ``jobs.view_jobrecord`` (as the admin's own queue
pages do), and each write the permission of the same action in the admin: requeue needs retry, stop
needs cancel, deleting or emptying needs delete (superusers). Callers who are not staff still get
django-rq's own answer (the login page)."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns

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
        if user.is_active and user.is_staff and not user.has_perm(permission_needed(name, request)):
            raise PermissionDenied(f"needs the permission {permission_needed(name, request)}")
        return view(request, *args, **kwargs)

    return guarded


# The read-only JSON and Prometheus views keep their own check (staff, or django-rq's API token).
urlpatterns = get_api_urlpatterns() + get_admin_urlpatterns(view_wrapper=with_roles)
