"""The job page's extras beside the ledger's fields: RQ's live view of the job, its audit timeline,
its parent and children, and the buttons that act on it (retry, requeue now, cancel).

The live part (status, progress, attempts, RQ's state, the buttons) is one fragment,
``admin/jobs/jobrecord/_job_live.html``: the page includes it, and htmx asks ``JobLiveView`` for it
again every ``ADMIN_REFRESH_SECONDS`` while the job has not finished. When the job's status changes,
the fragment's answer tells htmx to reload the whole page, so that its fields and attempts agree.
The buttons post to ``JobActionView``, which asks for confirmation first, checks the same permissions
as the list's actions (a viewer sees no button, and a viewer's POST is a 403) and calls
``jobs.services``, which audits each change with the staff member's name.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from jobs import selectors, services, timeline
from jobs.connection import redis_connection
from jobs.models import TERMINAL_STATUSES, WAITING_STATUSES, JobRecord, Status
from jobs.staff.base import _AdminPage

TIMELINE_LIMIT = 200

# RQ's job statuses as staff read them (``JobStatus.FAILED`` means little at 3 a.m.).
RQ_STATES_IN_WORDS = {
    "queued": "waiting in its queue",
    "started": "running on a worker",
    "finished": "finished",
    "failed": "failed (in RQ's failed registry)",
    "deferred": "waiting for the jobs it depends on",
    "scheduled": "scheduled: waiting for its run time",
    "stopped": "stopped by a stop command",
    "canceled": "canceled",
}


# Why a queued job waits in RQ's scheduled registry although its run time has come (``runner._held``).
HELD_IN_WORDS = {
    "rate_limit": "held by its type's rate limit",
    "concurrency": "held: its type's concurrency limit is full",
}


def _clock(iso):
    try:
        return timezone.localtime(datetime.fromisoformat(iso)).strftime("%H:%M:%S")
    except (TypeError, ValueError):
        return "its next slot"


def job_page_context(record: JobRecord, request=None) -> dict:
    """What the job page shows beside the ledger: the live fragment's context, the audit timeline (this
    job's own events, or with ``?timeline=all`` its whole correlation ID, from the providers other apps
    register in ``jobs.timeline``), its parent and children."""
    whole = request is not None and request.GET.get("timeline") == "all"
    entries = timeline.timeline_for(record.correlation_id, TIMELINE_LIMIT)
    truncated = len(entries) == TIMELINE_LIMIT
    if not whole:
        entries = [entry for entry in entries
                   if entry.resource_type == "job" and str(entry.resource_id) == str(record.pk)]
    return {
        **live_context(record, request),
        "timeline": entries,
        "timeline_whole": whole,
        "timeline_truncated": truncated,
        "children": selectors.job_children(record, 50),
    }


def live_context(record: JobRecord, request=None) -> dict:
    """The live fragment's context: RQ's view, the durations, the buttons this staff member may press."""
    return {
        "original": record,
        "rq_state": rq_state(record),
        "scheduled_for": scheduled_for(record),
        "durations": durations(record),
        "job_actions": job_actions(request, record) if request is not None else [],
        "refresh": None if record.status in TERMINAL_STATUSES else settings.ADMIN_REFRESH_SECONDS,
    }


def rq_state(record):
    """The job as RQ sees it right now, in words, or why it cannot be seen."""
    conn = redis_connection()
    try:
        job = RQJob.fetch(record.rq_id, connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        return {"present": False, "note": "not in Redis (finished jobs are removed; the ledger keeps them)"}
    except RedisError as exc:
        return {"present": False, "note": f"Redis unavailable: {exc}"}
    status = job.get_status(refresh=False)
    status = getattr(status, "value", status) or ""
    words = RQ_STATES_IN_WORDS.get(status, status)
    held = job.meta.get("held") if status == "scheduled" else None
    if isinstance(held, dict) and held.get("reason") in HELD_IN_WORDS:
        words = f"{HELD_IN_WORDS[held['reason']]} until {_clock(held.get('until'))}; not an attempt"
    return {
        "present": True, "status": words, "origin": job.origin,
        "enqueued_at": job.enqueued_at, "started_at": job.started_at, "ended_at": job.ended_at,
        "worker": job.worker_name, "timeout": job.timeout,
    }


def scheduled_for(record):
    """When a waiting job will run, if its run time is still ahead (a delay or a retry's backoff)."""
    if record.status in WAITING_STATUSES and record.run_at and record.run_at > timezone.now():
        return record.run_at
    return None


def durations(record):
    """``{"last", "total", "attempts", "running_since"}``: the last attempt's run time (what "how long does
    it take" means for a job that retried), the run time of all its ended attempts added up, how many
    attempts it had, and when the attempt still open began; None where unknown.

    ``total`` is time spent running, never the waits between attempts: a backoff, or the days a dead job
    sat in the dead letters before a staff retry, are not the job's run time."""
    attempts = sorted(record.attempt_set.all(), key=lambda attempt: attempt.number)
    last = attempts[-1].duration if attempts else None
    running_since = attempts[-1].started_at if attempts and attempts[-1].ended_at is None else None
    ran = [attempt.duration for attempt in attempts if attempt.duration is not None]
    total = sum(ran, timedelta()) if ran else None
    return {"last": last, "total": total, "attempts": len(attempts), "running_since": running_since}


# action -> (permission, service, what the confirmation asks, what the message says, the button's label)
JOB_ACTIONS = {
    "retry": ("jobs.retry_jobrecord", services.retry_job, "Retry this job?", "retried", "Retry"),
    "requeue": ("jobs.retry_jobrecord", services.requeue_job, "Run this job now, skipping its delay?",
                "requeued now", "Requeue now"),
    "cancel": ("jobs.cancel_jobrecord", services.cancel_job, "Cancel this job?", "canceled", "Cancel job"),
}


def _applies(action, record):
    if action == "retry":
        return record.status in TERMINAL_STATUSES
    if action == "requeue":
        return record.status == Status.PENDING or (record.status in WAITING_STATUSES and bool(record.run_at))
    return record.status not in TERMINAL_STATUSES  # cancel


def job_actions(request, record):
    """The buttons this staff member may press on this job now (by permission and by the job's status)."""
    return [{"name": action, "label": spec[4]} for action, spec in JOB_ACTIONS.items()
            if request.user.has_perm(spec[0]) and _applies(action, record)]


class JobLiveView(_AdminPage):
    """The live fragment alone (htmx polls it). ``?shown=<status>`` is the status the page shows: when
    the job has moved since, the answer asks htmx to reload the page (``HX-Refresh``)."""

    template = "admin/jobs/jobrecord/_job_live.html"

    def get(self, request, object_id):
        if not self.model_admin.has_view_permission(request):
            raise PermissionDenied
        record = selectors.job_detail(object_id)
        if record is None:
            raise Http404("no such job")
        shown = request.GET.get("shown")
        if shown and shown != record.status:
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return TemplateResponse(request, self.template, live_context(record, request))


class JobActionView(_AdminPage):
    """POST ``action`` (retry, requeue, cancel): a confirmation page first; with ``confirmed=yes`` the
    service acts, and the staff member is back on the job page with what happened."""

    template = "admin/jobs/jobrecord/action_confirm.html"

    def post(self, request, object_id):
        spec = JOB_ACTIONS.get(request.POST.get("action", ""))
        if spec is None or not request.user.has_perm(spec[0]):
            raise PermissionDenied
        record = selectors.job_detail(object_id)
        if record is None:
            raise Http404("no such job")
        page = reverse("admin:jobs_jobrecord_change", args=[record.pk])
        permission, service, question, done, _label = spec
        if request.POST.get("confirmed") != "yes":
            self.title = question
            return self.render(request, action=request.POST["action"], records=[record], count=1, selected=[],
                               back_url=page)
        if service(record, actor=request.user):
            messages.success(request, f"Job {record.pk} {done}.")
        else:
            record.refresh_from_db(fields=["status"])
            messages.warning(request, f"Job {record.pk} was not {done}: it is {record.status}.")
        return HttpResponseRedirect(page)
