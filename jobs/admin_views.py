"""Admin pages beyond the changelist: the job page's extras, queues (with pause and resume), dead
letters grouped by cause, and "apply an action to every job matching the filter", which runs as a job
itself so that 100,000 jobs never time out a request."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views import View
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from jobs import queues, ratelimit, selectors, timeline
from jobs.connection import redis_connection
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import JobRecord
from jobs.readiness import redis_durability_warnings
from jobs.signals import staff_action
from jobs.staff.charts import queue_charts

# action -> the permission it needs
BULK_ACTIONS = {
    "retry": "jobs.retry_jobrecord",
    "requeue": "jobs.retry_jobrecord",
    "cancel": "jobs.cancel_jobrecord",
    "delete": "jobs.delete_jobrecord",
}
TIMELINE_LIMIT = 200


def job_page_context(record: JobRecord) -> dict:
    """What the job page shows beside the ledger: RQ's live view of the job, the timeline of its
    correlation ID (from the providers other apps register in ``jobs.timeline``), its parent and children."""
    entries = timeline.timeline_for(record.correlation_id, TIMELINE_LIMIT)
    return {
        "rq_state": rq_state(record),
        "timeline": entries,
        "timeline_truncated": len(entries) == TIMELINE_LIMIT,
        "children": list(record.children.order_by("created_at")[:50]),
    }


def rq_state(record):
    """The job as RQ sees it right now, or why it cannot be seen."""
    conn = redis_connection()
    try:
        job = RQJob.fetch(record.rq_id, connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        return {"present": False, "note": "not in Redis (finished jobs are removed; the ledger keeps them)"}
    except RedisError as exc:
        return {"present": False, "note": f"Redis unavailable: {exc}"}
    return {
        "present": True, "status": job.get_status(refresh=False), "origin": job.origin,
        "enqueued_at": job.enqueued_at, "started_at": job.started_at, "ended_at": job.ended_at,
        "worker": job.worker_name, "timeout": job.timeout,
    }


def bulk_actions_allowed(request):
    return [action for action, perm in BULK_ACTIONS.items() if request.user.has_perm(perm)]


class _AdminPage(View):
    model_admin = None
    template = None
    title = ""

    def render(self, request, **context):
        return TemplateResponse(request, self.template, {
            **self.model_admin.admin_site.each_context(request), "opts": JobRecord._meta, "title": self.title,
            **context,
        })


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
        return self.render(request, rows=rows, rates=rates, error=error, warnings=warnings,
                           can_pause=request.user.has_perm("jobs.pause_queue"), django_rq_url=reverse("django_rq:home"),
                           **queue_charts())

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
        return self.render(request, groups=groups, can_retry=request.user.has_perm("jobs.retry_jobrecord"))


class BulkActionView(_AdminPage):
    """GET: how many jobs match and which actions the staff member may apply. POST with ``confirmed``:
    enqueue ``jobs.bulk_action`` and send the staff member to its job page, where progress shows."""

    template = "admin/jobs/bulk_confirm.html"
    title = "Apply an action to every matching job"

    def get(self, request):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        filters = selectors.bulk_filters(request.GET)
        matching = selectors.jobs_matching(filters)
        return self.render(request, filters=filters, query=request.GET.urlencode(),
                           count=matching.order_by()[:100_001].count(), actions=bulk_actions_allowed(request),
                           chosen=request.GET.get("action", ""))

    def post(self, request):
        action = request.POST.get("action", "")
        if action not in BULK_ACTIONS or not request.user.has_perm(BULK_ACTIONS[action]):
            raise PermissionDenied
        filters = selectors.bulk_filters(request.POST)
        if request.POST.get("confirmed") != "yes":
            messages.warning(request, "Nothing done: the action was not confirmed.")
            return HttpResponseRedirect(reverse("admin:jobs_jobrecord_changelist"))
        record = enqueue("jobs.bulk_action", {"action": action, "filters": filters}, actor=request.user)
        staff_action.send(sender=JobRecord, actor=request.user, action=f"jobs.bulk_{action}", resource_type="job",
                          resource_id=record.pk, data={"filters": filters})
        messages.success(request, f"The {action} of every matching job runs as job {record.pk}; "
                                  "its progress shows here.")
        return HttpResponseRedirect(reverse("admin:jobs_jobrecord_change", args=[record.pk]))
