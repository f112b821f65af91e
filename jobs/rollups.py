"""The charts' rollups: what finished per minute and per hour, per queue and job type (``JobMinuteStat``,
``JobHourStat``), kept cheap so that the queues page never scans the ledger.

Written by an aggregation pass, not by the runner: a job's run costs no extra statement. The scheduler's
tick (``jobs.maintenance.system_tick``) runs a pass every ``JOBS_ROLLUP_INTERVAL`` seconds; a pass counts
the attempts that ended after the high-water mark (``RollupMark.through``) and up to
``JOBS_ROLLUP_LAG`` seconds ago (an attempt's end is stamped before its statement commits; the lag lets
it commit before its minute is counted), then moves the mark, in one transaction that holds the mark's
row lock: two passes never count an attempt twice, and a crashed pass counts nothing. It reads through
indexes the ledger already has: succeeded attempts through their records' ``succeeded_at``
(``job_succeeded_idx``), failed ones through ``attempt_failed_idx`` (ended_at); both are range scans over
one interval, whatever the size of the ledger. The first pass starts one day back (the day chart fills
within a couple of minutes); after a long stop the scheduler catches up an hour per tick.

What is counted, per minute and hour of the attempt's end (see ``RollupCounts``): succeeded attempts, failed
attempts (error, timeout, lost worker; retried or not) and, of those, dead (the last attempt, which
left the job dead, as the ledger says at the pass). Canceled attempts are not counted. Known edge: a
succeeded job that a staff member retries and a worker starts again within the lag and interval is not
counted for that first success.

Rollup rows older than ``JOBS_ROLLUP_KEEP_DAYS`` are deleted by each pass (a range on the key's index).

The reads below (``queue_minutes``, ``queue_hours``, ``type_totals``) are the charts' selectors: they sum
rollup rows in SQL over a range of the ``(minute|hour, queue, job_type)`` index and never touch the
ledger; the last day comes from the hour rows (24 per queue and type), the last hour from the minutes.
"""

import bisect
import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Sum
from django.utils import timezone

from jobs.models import (
    DURATION_BUCKETS_MS, N_DURATION_BUCKETS, JobAttempt, JobHourStat, JobMinuteStat, Outcome, RollupMark, Status,
)

log = logging.getLogger(__name__)

MARK = "job-minute-stats"
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.TIMEOUT, Outcome.LOST)
FIRST_PASS_BACK = timedelta(days=1)
CHUNK = timedelta(hours=1)  # at most this much ledger time per transaction
RUN_BUCKETS = tuple(f"run_{i}" for i in range(N_DURATION_BUCKETS))
WAIT_BUCKETS = tuple(f"wait_{i}" for i in range(N_DURATION_BUCKETS))
COUNTS = ("succeeded", "failed", "dead", "run_count", "run_ms", "wait_count", "wait_ms", *RUN_BUCKETS, *WAIT_BUCKETS)


# --- the numbers ------------------------------------------------------------------------------------

def bucket_of(ms: float) -> int:
    """The duration bucket of ``ms`` milliseconds: bucket ``i`` holds ``[bounds[i-1], bounds[i])``."""
    return bisect.bisect_right(DURATION_BUCKETS_MS, ms)


def bucket_bound(index: int):
    """The upper bound (ms) of bucket ``index``; None for the last one (no bound: 300 s and more)."""
    return DURATION_BUCKETS_MS[index] if index < len(DURATION_BUCKETS_MS) else None


def percentile_bucket(buckets, fraction: float):
    """The bucket holding the nearest-rank ``fraction`` percentile of the counts ``buckets``, or None
    when there are none. The value is known to within its bucket: below ``bucket_bound(index)``."""
    total = sum(buckets)
    if not total:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return index
    return len(buckets) - 1


def run_ms(started_at, ended_at) -> float:
    return max(0.0, (ended_at - started_at).total_seconds() * 1000)


def ready_at(*, number, attempts, created_at, run_at, queued_at, prev_end, prev_delay):
    """When an attempt could have started: its job was enqueued (or given a later ``run_at``), a staff
    retry or the relay queued it again (``queued_at``, which is the latest attempt's), or the previous
    attempt's backoff ended. Its queue wait is from then to its start."""
    times = [created_at, run_at]
    if number == attempts:
        times.append(queued_at)
    if prev_end is not None:
        times.append(prev_end + timedelta(seconds=prev_delay or 0))
    return max(t for t in times if t is not None)


# --- the aggregation pass ---------------------------------------------------------------------------

def aggregate_if_due(now=None):
    """The scheduler's step: a pass when the last one is ``JOBS_ROLLUP_INTERVAL`` seconds old, or at once
    while the rollups are more than an hour behind (after the first start or a long stop). Such a pass
    counts one hour of the ledger, so that no tick of the relay and the reconciler waits long on it: a day
    is caught up in 24 ticks."""
    now = now or timezone.now()
    mark = RollupMark.objects.filter(name=MARK).values_list("ran_at", "through").first()
    if mark is not None:
        ran_at, through = mark
        behind = now - timedelta(seconds=settings.JOBS_ROLLUP_LAG) - through
        if now - ran_at < timedelta(seconds=settings.JOBS_ROLLUP_INTERVAL) and behind <= CHUNK:
            return None
    return aggregate(now, max_chunks=1)


def aggregate(now=None, *, max_chunks=None) -> dict:
    """Count the attempts that ended since the mark into the rollups, move the mark, and delete rollup
    rows past their keep; ``max_chunks`` hours of the ledger at most (default: until caught up).
    Returns ``{"attempts": n, "rows": n, "through": t, "pruned": n}``; ``{"skipped": True}`` when
    another pass holds the mark."""
    now = now or timezone.now()
    upto = now - timedelta(seconds=settings.JOBS_ROLLUP_LAG)
    RollupMark.objects.get_or_create(name=MARK, defaults={"through": now - FIRST_PASS_BACK, "ran_at": now})
    report, chunks = {"attempts": 0, "rows": 0}, 0
    while True:
        with transaction.atomic():
            mark = RollupMark.objects.select_for_update(skip_locked=True).filter(name=MARK).first()
            if mark is None:
                return {"skipped": True}
            low = mark.through
            high = min(upto, low + CHUNK)
            if high > low:
                stats = fold(attempts_ended(low, high))
                report["attempts"] += sum(s["succeeded"] + s["failed"] for s in stats.values())
                report["rows"] += merge(stats)
                mark.through = high
            mark.ran_at = now
            mark.save(update_fields=["through", "ran_at"])
        chunks += 1
        if high >= upto or (max_chunks is not None and chunks >= max_chunks):
            break
    report["through"] = mark.through
    report["pruned"] = prune(now)
    return report


def attempts_ended(low, high):
    """Rows ``(queue, record queue, job_type, outcome, number, started_at, ended_at, attempts, status,
    created_at, run_at, queued_at, prev_end, prev_delay)`` of the attempts to count in ``(low, high]``:
    the succeeded ones through the records' ``succeeded_at`` index, the failed ones through
    ``attempt_failed_idx``; each previous attempt is one look-up on ``(record, number)``."""
    previous = JobAttempt.objects.filter(record_id=OuterRef("record_id"), number=OuterRef("number") - 1)
    base = JobAttempt.objects.annotate(
        prev_end=Subquery(previous.values("ended_at")[:1]), prev_delay=Subquery(previous.values("retry_delay")[:1]),
    ).order_by()
    fields = ("queue", "record__queue", "record__job_type", "outcome", "number", "started_at", "ended_at",
              "record__attempts", "record__status", "record__created_at", "record__run_at", "record__queued_at",
              "prev_end", "prev_delay")
    succeeded = base.filter(record__succeeded_at__gt=low, record__succeeded_at__lte=high,
                            outcome=Outcome.SUCCEEDED, number=F("record__attempts"))
    failed = base.filter(outcome__in=FAILED_OUTCOMES, ended_at__gt=low, ended_at__lte=high)
    yield from succeeded.values_list(*fields)
    yield from failed.values_list(*fields)


def fold(rows) -> dict:
    """``{(minute, queue, job_type): counts}`` of the attempt rows (``attempts_ended``)."""
    stats = {}
    for (queue, record_queue, job_type, outcome, number, started_at, ended_at, attempts, status, created_at,
         run_at, queued_at, prev_end, prev_delay) in rows:
        key = (ended_at.replace(second=0, microsecond=0), queue or record_queue, job_type)
        counts = stats.get(key)
        if counts is None:
            counts = stats[key] = dict.fromkeys(COUNTS, 0)
        if outcome == Outcome.SUCCEEDED:
            counts["succeeded"] += 1
        else:
            counts["failed"] += 1
            if status == Status.DEAD and number == attempts:
                counts["dead"] += 1
        if outcome != Outcome.LOST:  # a lost attempt's end is when the loss was found, not when it stopped
            ms = run_ms(started_at, ended_at)
            counts["run_count"] += 1
            counts["run_ms"] += round(ms)
            counts[RUN_BUCKETS[bucket_of(ms)]] += 1
        ready = ready_at(number=number, attempts=attempts, created_at=created_at, run_at=run_at,
                         queued_at=queued_at, prev_end=prev_end, prev_delay=prev_delay)
        wait = run_ms(ready, started_at)
        counts["wait_count"] += 1
        counts["wait_ms"] += round(wait)
        counts[WAIT_BUCKETS[bucket_of(wait)]] += 1
    return stats


def merge(stats: dict) -> int:
    """Add ``stats`` (``{(minute, queue, job_type): counts}``) to the minute rows and, folded by hour, to
    the hour rows (read, added, written: the caller holds the mark's lock, the only writer's). Returns
    the minute rows written."""
    hours = {}
    for (minute, queue, job_type), counts in stats.items():
        total = hours.setdefault((minute.replace(minute=0), queue, job_type), dict.fromkeys(COUNTS, 0))
        for name, value in counts.items():
            total[name] += value
    _merge(JobHourStat, "hour", hours)
    return _merge(JobMinuteStat, "minute", stats)


def _merge(model, period, stats):
    if not stats:
        return 0
    starts = {start for start, _, _ in stats}
    existing = {}
    for row in model.objects.filter(**{f"{period}__gte": min(starts), f"{period}__lte": max(starts)}):
        key = (getattr(row, period), row.queue, row.job_type)
        if key in stats:
            existing[key] = row
    changed, new = [], []
    for key, counts in stats.items():
        row = existing.get(key)
        if row is None:
            new.append(model(**{period: key[0]}, queue=key[1], job_type=key[2], **counts))
        else:
            for name, value in counts.items():
                setattr(row, name, getattr(row, name) + value)
            changed.append(row)
    model.objects.bulk_create(new, batch_size=500)
    model.objects.bulk_update(changed, COUNTS, batch_size=200)
    return len(new) + len(changed)


def prune(now=None) -> int:
    """Delete rollup rows older than ``JOBS_ROLLUP_KEEP_DAYS``; returns how many minute rows."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.JOBS_ROLLUP_KEEP_DAYS)
    JobHourStat.objects.filter(hour__lt=cutoff.replace(minute=0, second=0, microsecond=0)).delete()
    deleted, _ = JobMinuteStat.objects.filter(minute__lt=cutoff).delete()
    return deleted


# --- the charts' selectors (the rollup only) -----------------------------------------------------------

def _grouped(queryset, keys, order=()):
    """``queryset`` grouped by ``keys`` with every count summed, as dicts named by ``keys`` and
    ``COUNTS`` (tuples from the database, named here: a page sums a few hundred rows of 41 columns)."""
    sums = {f"sum_{name}": Sum(name) for name in COUNTS}
    rows = queryset.values(*keys).annotate(**sums).order_by(*order).values_list(*keys, *sums)
    names = (*keys, *COUNTS)
    return [dict(zip(names, row)) for row in rows]


def queue_minutes(since) -> list[dict]:
    """Per queue and minute from ``since``: the summed counts and buckets (``COUNTS``), with ``queue``
    and ``minute``."""
    return _grouped(JobMinuteStat.objects.filter(minute__gte=since), ("queue", "minute"))


def queue_hours(since) -> list[dict]:
    """Per queue and hour (UTC) from ``since`` (an hour's start): the summed counts and buckets, with
    ``queue`` and ``hour``."""
    return _grouped(JobHourStat.objects.filter(hour__gte=since), ("queue", "hour"))


def type_totals(since) -> list[dict]:
    """Per job type from ``since`` (an hour's start): the summed counts and buckets, with ``job_type``,
    by type name."""
    return _grouped(JobHourStat.objects.filter(hour__gte=since), ("job_type",), order=("job_type",))


def counted_through():
    """Up to when attempts are counted in the rollups (``None``: not counted yet, no pass has run)."""
    return RollupMark.objects.filter(name=MARK).values_list("through", flat=True).first()
