"""Writes of the audit app: events, retention, the nightly rollup and the audit reports.

Callers pass what happened; the correlation ID defaults to the bound one. Every function here is the
one place its rule lives, for the job functions (``audit.tasks``), the admin and the control panel.
"""

import csv
import io
import uuid
from datetime import date, datetime, time, timedelta, timezone as dt_timezone

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from audit.models import AuditEvent, AuditReport, AuditRollup, DailyJobRollup
from jobs.errors import JobError, PermanentError
from project import correlation

REPORT_MAX_DAYS = 366


def audit_event_record(*, action, resource_type, resource_id, actor=None, guild=None, correlation_id=None, data=None):
    return AuditEvent.objects.create(
        action=action, resource_type=resource_type, resource_id=str(resource_id),
        actor_id=getattr(actor, "pk", actor), guild_id=getattr(guild, "pk", guild),
        correlation_id=correlation_id or correlation.get() or "", data=data or {},
    )


def audit_events_insert(*, events: list[dict], actor_id=None, correlation_id="") -> int:
    """Insert many events with one INSERT (``ON CONFLICT DO NOTHING`` on ``event_key``) and return how
    many were new. Each dict has action, resource_type, resource_id, guild_id, data and event_key (which
    must be set: it is what makes a second run insert nothing). Events without a key, or two with the same
    one, are a ``PermanentError`` (the same input fails every time, so it is not retried; ``audit.log_bulk``
    refuses duplicate keys at enqueue already)."""
    if not events:
        return 0
    keys = [event["event_key"] for event in events]
    if not all(keys) or len(set(keys)) != len(keys):
        raise PermanentError("every event needs its own key")
    with transaction.atomic():
        before = set(AuditEvent.objects.filter(event_key__in=keys).values_list("event_key", flat=True))
        AuditEvent.objects.bulk_create([
            AuditEvent(action=event["action"], resource_type=event["resource_type"],
                       resource_id=str(event["resource_id"]), guild_id=event.get("guild_id"), actor_id=actor_id,
                       correlation_id=correlation_id or "", data=event.get("data") or {},
                       event_key=event["event_key"])
            for event in events if event["event_key"] not in before
        ], ignore_conflicts=True)
    return len(keys) - len(before)


def audit_retention_apply(*, days=None, batch=None, correlation_id="") -> dict:
    """Delete the events older than ``days`` (default ``AUDIT_RETENTION_DAYS``), ``batch`` at a time
    (default ``AUDIT_RETENTION_BATCH``), through the log's one purge path, and record one event saying
    how many went and up to when. Exactly the events created before ``now - days`` go; the rest stay."""
    days = days or settings.AUDIT_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=days)
    deleted = AuditEvent.objects.purge_before(cutoff, batch=batch or settings.AUDIT_RETENTION_BATCH)
    audit_event_record(action="audit.retention_applied", resource_type="audit", resource_id="events",
                       correlation_id=correlation_id,
                       data={"days": days, "deleted": deleted, "before": cutoff.isoformat()})
    return {"deleted": deleted, "before": cutoff.isoformat()}


def _day_bounds(day: date):
    start = datetime.combine(day, time.min, tzinfo=dt_timezone.utc)
    return start, start + timedelta(days=1)


def audit_rollup_day(*, day: date) -> dict:
    """Recompute one day (UTC) of both rollups: audit events by guild and action (``AuditRollup``) and
    jobs created by type and status (``DailyJobRollup``). Idempotent: updates the day's counts that
    changed, inserts new pairs and removes the rows whose pair no longer occurs, in one transaction with
    the day's rows locked (a concurrent run of the same day waits)."""
    from jobs.models import JobRecord

    start, end = _day_bounds(day)
    counts = list(AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
                  .values("guild_id", "action").annotate(count=Count("pk")))
    jobs = list(JobRecord.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
                .values("job_type", "status").annotate(count=Count("pk")))
    with transaction.atomic():
        # The day's rows, locked: counts that changed are updated, new pairs inserted, gone ones removed.
        rows = AuditRollup.objects.select_for_update().filter(day=day).order_by()
        existing = {(row.guild_id, row.action): row for row in rows}
        fresh = {(row["guild_id"], row["action"]): row["count"] for row in counts}
        changed = []
        for pair, row in existing.items():
            if pair in fresh and row.count != fresh[pair]:
                row.count = fresh[pair]
                changed.append(row)
        AuditRollup.objects.bulk_update(changed, ["count"], batch_size=1000)
        AuditRollup.objects.bulk_create([AuditRollup(day=day, guild_id=guild_id, action=action, count=count)
                                         for (guild_id, action), count in fresh.items() if (guild_id, action)
                                         not in existing], batch_size=1000)
        gone = [row.pk for pair, row in existing.items() if pair not in fresh]
        if gone:
            AuditRollup.objects.filter(pk__in=gone).delete()
        DailyJobRollup.objects.filter(day=day).delete()
        DailyJobRollup.objects.bulk_create([DailyJobRollup(day=day, **row) for row in jobs])
    return {"day": day.isoformat(), "audit_rows": len(counts), "job_rows": len(jobs)}


def audit_rollup_recent(*, day: date | None = None, days: int | None = None) -> list[dict]:
    """Recompute ``days`` days (default ``AUDIT_ROLLUP_DAYS``) ending with ``day`` (default yesterday,
    UTC): what the nightly schedule runs."""
    last = day or (timezone.now().astimezone(dt_timezone.utc) - timedelta(days=1)).date()
    days = days or settings.AUDIT_ROLLUP_DAYS
    return [audit_rollup_day(day=last - timedelta(days=offset)) for offset in reversed(range(days))]


def audit_report_period_validate(start, end):
    """``JobError`` naming the field unless ``start``..``end`` is a period a report may cover."""
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise JobError(f"{field} must be a date (YYYY-MM-DD)", field=field, code="invalid_date")
    if end < start:
        raise JobError("the period ends before it starts", field="end", code="invalid_range")
    if (end - start).days + 1 > REPORT_MAX_DAYS:
        raise JobError(f"the period spans more than {REPORT_MAX_DAYS} days", field="end", code="range_too_long")


def audit_report_request(*, user, start: date, end: date) -> AuditReport:
    """Record a report of the rollup over ``start``..``end`` (inclusive) and enqueue its job, in one
    transaction; ``JobError`` naming the field for a bad period (nothing is written then)."""
    from jobs.enqueue import enqueue

    audit_report_period_validate(start, end)
    job_id = uuid.uuid4()
    with transaction.atomic():
        report = AuditReport.objects.create(requested_by=user, start=start, end=end, job_id=job_id)
        enqueue("audit.report", {"report_id": report.pk}, actor=user, job_id=job_id)
        audit_event_record(action="audit.report_requested", resource_type="audit_report", resource_id=report.pk,
                           actor=user, data={"start": start.isoformat(), "end": end.isoformat()})
    return report


REPORT_HEADER = ["day", "guild_id", "guild", "action", "count"]


def audit_report_rollup_missing(*, start: date, end: date, now=None) -> list[date]:
    """Roll up the days of ``start``..``end`` (up to today, UTC) that the report would otherwise miss or
    count short, and return them: the days with no rollup row at all (the nightly never covered them), and
    the days the nightly recomputes anyway (the last ``AUDIT_ROLLUP_DAYS`` and today, which may be partial).
    Days already rolled up further back are left alone: their events may be gone by retention, and a
    recompute would then lose their counts."""
    today = (now or timezone.now()).astimezone(dt_timezone.utc).date()
    last = min(end, today)
    if last < start:
        return []
    done = set(AuditRollup.objects.filter(day__gte=start, day__lte=last).order_by().values_list("day", flat=True)
               .distinct())
    done |= set(DailyJobRollup.objects.filter(day__gte=start, day__lte=last).order_by()
                .values_list("day", flat=True).distinct())
    recent = today - timedelta(days=settings.AUDIT_ROLLUP_DAYS)
    days = [start + timedelta(days=n) for n in range((last - start).days + 1)]
    missing = [day for day in days if day >= recent or day not in done]
    for day in missing:
        audit_rollup_day(day=day)
    return missing


def audit_report_generate(*, report: AuditReport, attempt: int = 1) -> dict:
    """Write the report's CSV (one row per day, guild and action of the rollup, in that order) to the
    default storage and record it on the report. Idempotent: a rerun replaces the file.

    Every event of the period is counted: the days the nightly rollup has not covered are rolled up first
    (``audit_report_rollup_missing``). A period that includes today counts today up to the report's time,
    which the result says (``note``)."""
    now = timezone.now()
    rolled_up = audit_report_rollup_missing(start=report.start, end=report.end, now=now)
    today = now.astimezone(dt_timezone.utc).date()
    rows = (AuditRollup.objects.filter(day__gte=report.start, day__lte=report.end)
            .order_by("day", "guild_id", "action").values_list("day", "guild_id", "guild__slug", "action", "count"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_HEADER)
    count = 0
    for day, guild_id, slug, action, number in rows.iterator(chunk_size=5000):
        writer.writerow([day.isoformat(), guild_id or "", slug or "", action, number])
        count += 1
    content = buffer.getvalue().encode()
    name = default_storage.save(f"audit-reports/{report.pk}-{report.start}-{report.end}-{attempt}.csv",
                                ContentFile(content))
    old = report.file_name
    AuditReport.objects.filter(pk=report.pk).update(file_name=name, rows=count, size=len(content),
                                                    completed_at=timezone.now())
    if old and old != name:
        default_storage.delete(old)
    result = {"rows": count, "size": len(content), "rolled_up_days": len(rolled_up)}
    if report.start <= today <= report.end:
        result["note"] = f"today ({today.isoformat()}) is counted up to {now.astimezone(dt_timezone.utc):%H:%M:%S} UTC"
    return result


def audit_report_open(*, report: AuditReport, user, correlation_id=None):
    """The report's file, opened for reading; the download is audited. ``JobError`` if it is not ready."""
    if not report.ready:
        raise JobError("this report is not ready yet", field="report", code="not_ready")
    audit_event_record(action="audit.report_downloaded", resource_type="audit_report", resource_id=report.pk,
                       actor=user, correlation_id=correlation_id, data={"rows": report.rows})
    return default_storage.open(report.file_name, "rb")


def audit_report_delete(*, reports, actor=None) -> int:
    """Delete reports with their files (superusers, from the admin); each deletion is audited."""
    count = 0
    for report in list(reports):
        if report.file_name:
            default_storage.delete(report.file_name)
        audit_event_record(action="audit.report_deleted", resource_type="audit_report", resource_id=report.pk,
                           actor=actor, data={"start": report.start.isoformat(), "end": report.end.isoformat()})
        report.delete()
        count += 1
    return count
