"""Schedules: validation, the next run time, and enqueueing the due ones (one tick, once)."""

import logging
import zoneinfo
from datetime import timedelta
from datetime import timezone as dt_timezone

from croniter import CroniterBadDateError, croniter
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jobs import registry
from jobs.enqueue import enqueue, refuse_unknown_fields, validate_payload
from jobs.errors import JobError
from jobs.models import Schedule
from project.models import time_zone_names

log = logging.getLogger(__name__)


def schedule_validate(schedule: Schedule):
    """Raise ``ValidationError`` naming the field for anything the scheduler could not run."""
    errors = {}
    try:
        job_type = registry.get(schedule.job_type)
        refuse_unknown_fields(job_type, schedule.payload)
        schedule.payload = validate_payload(job_type, schedule.payload)
    except JobError as exc:
        errors["job_type" if exc.field == "job_type" else "payload"] = exc.message
    if not schedule.cron and not schedule.interval_seconds:
        errors["cron"] = "give a cron expression or an interval"
    elif schedule.cron and schedule.interval_seconds:
        errors["cron"] = "give either a cron expression or an interval, not both"
    elif schedule.cron and not croniter.is_valid(schedule.cron):
        errors["cron"] = f"{schedule.cron!r} is not a valid cron expression"
    elif schedule.cron and len(schedule.cron.split()) != 5:
        errors["cron"] = "use the five-field form: minute hour day month weekday"
    if schedule.timezone not in time_zone_names():  # ZoneInfo("Europe") raises IsADirectoryError, not NotFound
        errors["timezone"] = f"unknown time zone {schedule.timezone!r}"
    elif schedule.cron and "cron" not in errors:
        try:
            next_run(schedule, timezone.now())
        except CroniterBadDateError:  # valid fields, no such date: 30 February
            errors["cron"] = f"this cron expression never fires: {schedule.cron!r} names no date that exists"
    if errors:
        raise ValidationError(errors)


def next_run(schedule: Schedule, after):
    """The first run time strictly after ``after`` (aware, UTC)."""
    if schedule.interval_seconds:
        return after + timedelta(seconds=schedule.interval_seconds)
    zone = zoneinfo.ZoneInfo(schedule.timezone)
    local = croniter(schedule.cron, after.astimezone(zone)).get_next(type(after))
    return local.astimezone(dt_timezone.utc)


def next_tick(schedule: Schedule, tick, now):
    """The run after ``tick`` once it has run at ``now``: the first time on the schedule strictly after
    ``now``. An interval schedule stays on its grid (``tick`` plus whole intervals) however late the
    scheduler came, so its runs do not drift by the scheduler's latency; runs missed while no scheduler
    ran are skipped, not caught up."""
    if schedule.interval_seconds:
        step = timedelta(seconds=schedule.interval_seconds)
        return tick + step * (max(now - tick, timedelta(0)) // step + 1)
    return next_run(schedule, max(now, tick))


def schedule_save(schedule: Schedule):
    """Validate and save; the next run is recomputed from now, so an edit applies at the next tick."""
    schedule_validate(schedule)
    schedule.next_run_at = next_run(schedule, timezone.now()) if schedule.enabled else None
    schedule.save()
    return schedule


def run_due_schedules(now=None, limit=100):
    """Enqueue one job per due schedule and move it to its next run; returns the jobs enqueued.

    Missed runs (the scheduler was down) are not caught up: a schedule runs once, then waits for its
    next time. The tick's correlation ID, ``schedule-<id>-<epoch>``, names the schedule and the tick.

    Each schedule is handled on its own. One whose job cannot be enqueued (its type was removed, the
    type's schema now refuses its stored payload) still moves to its next run, so it neither holds up
    the schedules due after it nor fails again at every tick: the failure is logged once per run, naming
    the schedule, and kept in its ``last_error`` (shown in the admin) until a run enqueues.
    """
    now = now or timezone.now()
    records = []
    for schedule in Schedule.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")[:limit]:
        record = _run(schedule, now)
        if record is not None:
            records.append(record)
    return records


def _run(schedule: Schedule, now):
    """One due tick of ``schedule``: the job enqueued and the schedule moved on, or, if another scheduler
    took the tick, nothing. The record, or ``None`` when nothing was enqueued."""
    tick = schedule.next_run_at
    try:
        following = next_tick(schedule, tick, now)
    except Exception as exc:  # a row written around schedule_validate (a bad cron or zone): it waits for an edit
        following, failure = None, f"its next run cannot be computed, so it stops until edited: {_describe(exc)}"
    else:
        failure = None
    with transaction.atomic():
        won = Schedule.objects.filter(pk=schedule.pk, enabled=True, next_run_at=tick).update(
            next_run_at=following, last_run_at=now,
        )
        if not won:
            return None  # another scheduler took this tick
        record, fault = None, None
        if failure is None:
            try:
                with transaction.atomic():  # a savepoint: a refused enqueue undoes itself, not the move above
                    record = enqueue(schedule.job_type, schedule.payload,
                                     correlation_id=f"schedule-{schedule.pk}-{int(tick.timestamp())}")
            except Exception as exc:
                failure = _describe(exc)
                fault = None if isinstance(exc, JobError) else exc  # a refusal needs no traceback; a fault does
        if record is not None:
            Schedule.objects.filter(pk=schedule.pk).update(last_job=record, last_error="")
        else:
            Schedule.objects.filter(pk=schedule.pk).update(last_error=failure)
    if record is None:
        log.error("schedule %r (id %s, %s) enqueued nothing for its run at %s; next run %s: %s", schedule.name,
                  schedule.pk, schedule.job_type, tick.isoformat(),
                  following.isoformat() if following else "none", failure, exc_info=fault)
    return record


def _describe(exc):
    text = exc.message if isinstance(exc, JobError) else f"{type(exc).__name__}: {exc}"
    return text[:2000]


def schedule_run_now(schedule: Schedule, *, actor):
    """Enqueue the schedule's job at once, as ``actor`` (who must be allowed to enqueue its type by hand:
    internal types never), without moving its next run; audited. It is the schedule's last run (its
    ``last_run_at`` and ``last_job``), as a scheduled run is. Returns the record."""
    from jobs.signals import staff_action

    registry.check_may_enqueue(schedule.job_type, actor)
    now = timezone.now()
    with transaction.atomic():
        record = enqueue(schedule.job_type, schedule.payload, actor=actor,
                         correlation_id=f"schedule-{schedule.pk}-now-{int(now.timestamp())}")
        Schedule.objects.filter(pk=schedule.pk).update(last_job=record, last_error="", last_run_at=now)
        staff_action.send(sender=Schedule, actor=actor, action="schedule.run_now", resource_type="schedule",
                          resource_id=schedule.pk, data={"job": str(record.pk), "job_type": schedule.job_type})
    return record
