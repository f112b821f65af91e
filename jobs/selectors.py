"""Reads of the ledger that views, the API, the admin and bulk actions share."""

import uuid

from django.db.models import Q

from jobs import rq_internals
from jobs.connection import redis_connection
from jobs.models import JobRecord, Status

# Filters a bulk action can carry (the admin changelist's parameter names) -> ORM lookups.
FILTERS = {
    "status__exact": "status",
    "queue": "queue",
    "job_type": "job_type",
    "guild": "guild_id",
    "last_error_type": "last_error_type",
    "created_at__gte": "created_at__gte",
    "created_at__lt": "created_at__lt",
}


def search_jobs(queryset, term):
    """Exact-match search, each through an index: job id, correlation ID, job type, guild slug."""
    term = (term or "").strip()
    if not term:
        return queryset
    from project.models import Guild

    # Each condition on the ledger table alone, so that each uses its own index (an OR across the
    # guild join would scan the whole ledger).
    condition = Q(correlation_id=term) | Q(job_type=term)
    guild_id = Guild.objects.filter(slug=term).values_list("pk", flat=True).first()
    if guild_id is not None:
        condition |= Q(guild_id=guild_id)
    try:
        condition |= Q(pk=uuid.UUID(term))
    except ValueError:
        pass
    return queryset.filter(condition)


# What a filter wants, said when its value is refused.
_WANTED = {"guild": "a guild id (a number)", "created_at__gte": "a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)",
           "created_at__lt": "a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)"}


def jobs_filter_problems(filters: dict) -> dict:
    """``{parameter: what is wrong}`` for each filter whose value its field cannot hold (``guild=abc``,
    ``created_at__gte=2024-02-30``); empty when ``jobs_matching`` can use them all. Pages check this
    before counting or enqueueing a bulk action, so that a bad value is named to the staff member
    instead of failing a request or a job."""
    from django.core.exceptions import ValidationError

    problems = {}
    for name, lookup in FILTERS.items():
        value = filters.get(name)
        if value in (None, ""):
            continue
        try:
            JobRecord.objects.filter(**{lookup: value})  # builds the condition only: no query
        except (ValueError, TypeError, ValidationError):
            problems[name] = f"{name}={str(value)[:60]!r} is not {_WANTED.get(name, 'a usable value')}"
    return problems


def jobs_matching(filters: dict):
    """The jobs a changelist shows for these parameters (unknown ones are ignored), newest first.
    ``JobError`` naming the filter for a value its field cannot hold (``jobs_filter_problems``)."""
    from jobs.errors import JobError

    problems = jobs_filter_problems(filters)
    if problems:
        raise JobError("; ".join(problems.values()), field=next(iter(problems)))
    queryset = JobRecord.objects.all()
    for name, lookup in FILTERS.items():
        if filters.get(name) not in (None, ""):
            queryset = queryset.filter(**{lookup: filters[name]})
    return search_jobs(queryset, filters.get("q")).order_by("-created_at")


def bulk_filters(params) -> dict:
    """The part of a changelist query string that selects jobs (what a bulk action replays)."""
    return {name: params[name] for name in (*FILTERS, "q") if params.get(name)}


def dead_letter_groups():
    """Dead jobs grouped by type and error: count, first and last seen (through the dead-jobs index)."""
    from django.db.models import Count, Max, Min

    return list(
        JobRecord.objects.filter(status="dead").values("job_type", "last_error_type")
        .annotate(count=Count("*"), first_seen=Min("dead_at"), last_seen=Max("dead_at"))
        .order_by("-last_seen")
    )


def job_detail(record_id) -> JobRecord | None:
    """A record with its attempts, or None (also for an id that is not a UUID)."""
    from django.core.exceptions import ValidationError

    try:
        return JobRecord.objects.prefetch_related("attempt_set").get(pk=record_id)
    except (JobRecord.DoesNotExist, ValidationError, ValueError):
        return None


def record_of_rq_job(rq_id) -> JobRecord | None:
    """The ledger record of an RQ job (its id is the record's), without its attempts; None for an RQ job
    that is not jobdesk's (or not a UUID)."""
    try:
        return JobRecord.objects.only("id", "status", "job_type").filter(pk=uuid.UUID(str(rq_id))).first()
    except ValueError:
        return None


def schedules_overview(limit=20):
    """The schedules django-rq's dashboard lists beside its queues: jobdesk keeps them in the ledger
    (``jobs.Schedule``), not in rq-scheduler, so they are read from there, soonest first."""
    from django.db.models import F

    from jobs.models import Schedule

    return list(Schedule.objects.order_by(F("next_run_at").asc(nulls_last=True), "name")[:limit])


# Per job type, what its app adds to the job's status (``register_status_extra``): an export's download URL.
_status_extras = {}


def register_status_extra(job_type: str, extra):
    """``extra(record, absolute_url)`` returns fields for ``job_as_dict`` of jobs of ``job_type``;
    ``absolute_url(path)`` makes a path absolute for the caller. Apps register in ``AppConfig.ready``,
    so the engine needs to know nothing of them."""
    _status_extras[job_type] = extra


def _held(record):
    """For a queued job that a rate or concurrency limit parks: ``{"reason", "until"}`` (one Redis read)."""
    if record.status != Status.QUEUED:
        return None
    return rq_internals.held(redis_connection(), record.rq_id)


def job_as_dict(record: JobRecord, absolute_url=None, *, for_staff=True) -> dict:
    """The public view of a job: status, progress, attempts, result or error; its per-call options, its
    unique key, its batch and parent, and, while a limit parks it, why it waits (``held``). Which worker
    ran each attempt is for staff (``for_staff``); a guild's members and tokens are not told."""
    found = {
        "id": str(record.pk),
        "job_type": record.job_type,
        "queue": record.queue,
        "status": record.status,
        "progress": record.progress,
        "progress_message": record.progress_message,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "correlation_id": record.correlation_id,
        "guild_id": record.guild_id,
        "created_at": record.created_at,
        "run_at": record.run_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "result": record.result,
        "priority": record.priority,
        "options": record.options or {},
        "parent_id": str(record.parent_id) if record.parent_id else None,
        "batch_id": record.batch_id,
        "unique": ({"key": record.unique_key, "scope": record.unique_scope, "until": record.unique_until}
                   if record.unique_key else None),
        "held": _held(record),
        # A job that succeeded in the end has no error: an earlier attempt's stays in ``attempt_log``.
        "error": ({"type": record.last_error_type, "message": record.last_error}
                  if record.last_error_type and record.status != Status.SUCCEEDED else None),
        "attempt_log": [
            {
                "number": a.number, **({"worker": a.worker} if for_staff else {}), "started_at": a.started_at,
                "ended_at": a.ended_at, "outcome": a.outcome, "error_type": a.error_type,
                "error_message": a.error_message,
            }
            for a in record.attempt_set.all()
        ],
    }
    extra = _status_extras.get(record.job_type)
    if extra is not None:
        found.update(extra(record, absolute_url or (lambda path: path)) or {})
    return found


# RQ's worker states as staff read them.
WORKER_STATES_IN_WORDS = {"busy": "running a job", "idle": "waiting for jobs", "started": "starting",
                          "suspended": "suspended (rq suspend)"}


def workers_overview(now=None) -> list[dict]:
    """Every RQ worker registered in jobdesk's Redis: name, host, pid, queues, state in words, its current
    job, jobs done and failed, its last heartbeat; ``gone`` when it has not beaten for a heartbeat's
    lifetime (``QUEUE_JOB_HEARTBEAT`` + ``QUEUE_HEARTBEAT_GRACE``: it stopped without saying so). A
    worker that a running job in the ledger names but that Redis no longer knows is listed as gone too
    (its key expired), with that job: the reconciler takes such jobs back."""
    from django.conf import settings
    from django.utils import timezone
    from rq import Worker as RQWorker

    now = now or timezone.now()
    lifetime = settings.QUEUE_JOB_HEARTBEAT + settings.QUEUE_HEARTBEAT_GRACE
    rows = []
    for worker in RQWorker.all(connection=redis_connection()):
        if worker is None:
            continue
        state = worker.get_state()
        beat = worker.last_heartbeat
        silent = (now - beat).total_seconds() if beat else None
        gone = silent is None or silent > lifetime
        rows.append({
            "name": worker.name, "hostname": worker.hostname or "-", "pid": worker.pid,
            "queues": worker.queue_names(), "state": "gone" if gone else WORKER_STATES_IN_WORDS.get(state, state),
            "gone": gone, "current_job": worker.get_current_job_id(), "done": worker.successful_job_count,
            "failed": worker.failed_job_count, "last_heartbeat": beat, "silent_for": silent,
            "birth": worker.birth_date,
        })
    known = {row["name"] for row in rows}
    lost = {}
    for job_id, worker in (JobRecord.objects.filter(status=Status.RUNNING).exclude(worker="")
                           .values_list("id", "worker")[:1000]):
        if worker not in known:
            lost.setdefault(worker, job_id)
    for name, job_id in sorted(lost.items()):
        rows.append({"name": name, "hostname": "-", "pid": None, "queues": [], "state": "gone", "gone": True,
                     "current_job": str(job_id), "done": None, "failed": None, "last_heartbeat": None,
                     "silent_for": None, "birth": None})
    rows.sort(key=lambda row: (row["gone"], row["name"]))
    return rows


def dead_error_types(limit=50) -> list[str]:
    """The error types of dead jobs, sorted, for the job list's sidebar: on PostgreSQL a loose index scan
    of the dead-jobs index (one short index probe per distinct job type and error type, whatever the
    number of dead jobs), never a ``SELECT DISTINCT`` over them."""
    from django.db import connection

    dead = JobRecord.objects.filter(status=Status.DEAD).exclude(last_error_type="")
    if connection.vendor != "postgresql":
        return list(dead.order_by("last_error_type").values_list("last_error_type", flat=True).distinct()[:limit])
    table = JobRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH RECURSIVE pairs(job_type, error_type, n) AS (
                (SELECT job_type, last_error_type, 1 FROM {table} WHERE status = 'dead'
                 ORDER BY job_type, last_error_type LIMIT 1)
                UNION ALL
                SELECT next.job_type, next.last_error_type, pairs.n + 1 FROM pairs CROSS JOIN LATERAL (
                    SELECT j.job_type, j.last_error_type FROM {table} j
                    WHERE j.status = 'dead' AND (j.job_type, j.last_error_type) > (pairs.job_type, pairs.error_type)
                    ORDER BY j.job_type, j.last_error_type LIMIT 1) next
                WHERE pairs.n < %s
            )
            SELECT DISTINCT error_type FROM pairs WHERE error_type <> '' ORDER BY 1 LIMIT %s""", [limit * 10, limit])
        return [row[0] for row in cursor.fetchall()]


def attempt_times():
    """A prefetch of jobs' attempts with only their times (what a list row's duration needs)."""
    from django.db.models import Prefetch

    from jobs.models import JobAttempt

    return Prefetch("attempt_set", queryset=JobAttempt.objects.only("record_id", "number", "started_at", "ended_at"))


def jobs_with_attempt_times(ids):
    """The jobs with these ids (the rows a list page shows), each with its attempts' times."""
    return JobRecord.objects.filter(pk__in=ids).prefetch_related(attempt_times())


def newer_jobs_count(filters: dict, since, cap: int) -> int:
    """How many jobs matching a list's ``filters`` were created after ``since``, counting at most ``cap``."""
    return jobs_matching(filters).filter(created_at__gt=since).order_by()[:cap].count()


def job_children(record, limit=50):
    return list(record.children.order_by("created_at")[:limit])
