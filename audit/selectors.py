"""Reads of the audit log: the job page's timeline, a correlation ID's whole timeline, the admin's search
and a guild's trail. Each goes through an index of ``AuditEvent`` (see its Meta); none scans the log."""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q

from audit.models import AuditEvent

TIMELINE_LIMIT = 1000


def job_timeline(correlation_id: str, limit: int) -> list[AuditEvent]:
    """The events of one correlation ID, oldest first (the job page's timeline, via ``jobs.timeline``)."""
    return list(AuditEvent.objects.filter(correlation_id=correlation_id).select_related("actor")
                .order_by("created_at", "id")[:limit])


def search_events(queryset, term: str):
    """The admin's search: exact matches only, each through its own index.

    ``term`` is a correlation ID, ``actor:<username>`` (or a bare username), ``guild:<slug>`` (or a bare
    slug), or a resource as ``<type>:<id>`` (``job:0b7c…``, ``export:12``). A bare word is tried as each
    of those at once (an OR of indexed conditions on the log alone: no join, so each uses its index)."""
    term = (term or "").strip()
    if not term:
        return queryset
    kind, sep, rest = term.partition(":")
    if sep and kind == "actor":
        return queryset.filter(actor_id__in=_user_ids(rest))
    if sep and kind == "guild":
        return queryset.filter(guild_id__in=_guild_ids(rest))
    if sep and kind == "correlation":
        return queryset.filter(correlation_id=rest)
    condition = Q(correlation_id=term)
    if sep and rest:
        condition |= Q(resource_type=kind, resource_id=rest)
    user_ids, guild_ids = _user_ids(term), _guild_ids(term)
    if user_ids:
        condition |= Q(actor_id__in=user_ids)
    if guild_ids:
        condition |= Q(guild_id__in=guild_ids)
    return queryset.filter(condition)


def _user_ids(username):
    return list(get_user_model().objects.filter(username=username).values_list("pk", flat=True)[:1])


def _guild_ids(slug):
    from project.models import Guild

    return list(Guild.objects.filter(slug=slug).values_list("pk", flat=True)[:1])


def guild_trail(guild_id: int):
    """A guild's events, newest first (the control panel's audit trail), through the guild index."""
    return (AuditEvent.objects.filter(guild_id=guild_id).select_related("actor")
            .order_by("-created_at", "-id"))


def known_actions(limit: int = 200) -> list[str]:
    """The distinct actions in the log, for the admin's action filter. On PostgreSQL a loose index scan
    (one probe of the action index per distinct action, however many events there are) instead of a
    ``SELECT DISTINCT`` over the whole log; elsewhere (SQLite for ``make run``, a small log) the plain way."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()[:limit])
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH RECURSIVE actions(action, n) AS (
                (SELECT action, 1 FROM {table} ORDER BY action LIMIT 1)
                UNION ALL
                SELECT (SELECT e.action FROM {table} e WHERE e.action > actions.action ORDER BY e.action LIMIT 1),
                       n + 1
                FROM actions WHERE actions.action IS NOT NULL AND n < %s
            )
            SELECT action FROM actions WHERE action IS NOT NULL""", [limit])
        return [row[0] for row in cursor.fetchall()]


@dataclass
class Entry:
    """One line of a correlation ID's timeline."""

    at: datetime
    kind: str          # "event", "job", "attempt"
    name: str          # the event's action, the job's type, "attempt 2"
    summary: str = ""
    actor: object = None
    resource: str = ""
    job_id: object = None
    order: int = 0     # at equal times: a job before its events, its events before its attempts' ends
    data: dict = field(default_factory=dict)


def correlation_timeline(correlation_id: str, limit: int = TIMELINE_LIMIT) -> dict:
    """Everything that happened under one correlation ID, oldest first: its audit events (the request's
    writes, every enqueue and state change, staff actions, downloads, deliveries — whatever app wrote
    them), and its jobs (child jobs inherit the ID) with each attempt's start and end.

    Three indexed reads (events by correlation ID, jobs by correlation ID, attempts by job); at most
    ``limit`` events and jobs each. Returns entries, the jobs, and whether anything was cut."""
    from jobs.models import JobAttempt, JobRecord

    events = list(AuditEvent.objects.filter(correlation_id=correlation_id).select_related("actor", "guild")
                  .order_by("created_at", "id")[:limit])
    jobs = list(JobRecord.objects.filter(correlation_id=correlation_id).select_related("actor", "guild")
                .order_by("created_at")[:limit])
    attempts = list(JobAttempt.objects.filter(record__in=[job.pk for job in jobs]).order_by("started_at"))
    types = {job.pk: job.job_type for job in jobs}
    entries = []
    for job in jobs:
        parent = f" (child of {job.parent_id})" if job.parent_id else ""
        entries.append(Entry(at=job.created_at, kind="job", name=job.job_type, actor=job.actor, job_id=job.pk,
                             resource=f"job:{job.pk}", summary=f"job created, now {job.status}{parent}", order=0))
    for event in events:
        job_id = event.resource_id if event.resource_type == "job" else None
        entries.append(Entry(at=event.created_at, kind="event", name=event.action, actor=event.actor,
                             resource=f"{event.resource_type}:{event.resource_id}", job_id=job_id,
                             summary=_event_summary(event), data=event.data, order=1))
    for attempt in attempts:
        label = f"attempt {attempt.number} of {types.get(attempt.record_id, '')}"
        entries.append(Entry(at=attempt.started_at, kind="attempt", name=label, job_id=attempt.record_id,
                             resource=f"job:{attempt.record_id}", summary=f"started on {attempt.worker or '?'}",
                             order=2))
        if attempt.ended_at:
            error = f": {attempt.error_type} {attempt.error_message[:200]}" if attempt.error_type else ""
            entries.append(Entry(at=attempt.ended_at, kind="attempt", name=label, job_id=attempt.record_id,
                                 resource=f"job:{attempt.record_id}", summary=f"{attempt.outcome}{error}", order=2))
    entries.sort(key=lambda entry: (entry.at, entry.order))
    return {"entries": entries, "jobs": jobs, "truncated": len(events) == limit or len(jobs) == limit}


def _event_summary(event):
    data = event.data or {}
    if event.resource_type == "job" and "to" in data:
        parts = [data.get("job_type", ""), f"{data.get('from') or '—'} → {data.get('to')}"]
        if data.get("reason"):
            parts.append(str(data["reason"]))
        if data.get("attempt"):
            parts.append(f"attempt {data['attempt']}")
        return " · ".join(part for part in parts if part)
    return ", ".join(f"{key}={value}" for key, value in list(data.items())[:6])
