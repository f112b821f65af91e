"""The queues page's charts tell what the ledger holds: after a real worker has run a mix of jobs that
succeed, fail and are retried, and die, the minute rollup's counts, duration buckets and so p50/p95 equal
a direct computation over the job records and their attempts; a second pass counts nothing twice, a
later one adds exactly the jobs that ended since; rollup rows past their keep are removed."""

import math
from collections import defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import rollups
from jobs.enqueue import enqueue
from jobs.models import (
    TERMINAL_STATUSES, JobAttempt, JobHourStat, JobMinuteStat, JobRecord, Outcome, RollupMark, Status,
)
from tests.conftest import wait_for
from tests.rollup_fixtures import stat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_lag(settings):
    settings.JOBS_ROLLUP_LAG = 0


def run_mix(start_worker, tag):
    records = [
        *(enqueue("test.flaky", {"marker": f"{tag}-ok-{i}", "fail_times": 0}) for i in range(3)),
        *(enqueue("test.flaky", {"marker": f"{tag}-retried-{i}", "fail_times": 1}) for i in range(2)),
        enqueue("test.always_fails", {"marker": f"{tag}-dead"}),
        *(enqueue("test.permanent", {"marker": f"{tag}-permanent-{i}"}) for i in range(2)),
        *(enqueue("test.sleep", {"marker": f"{tag}-sleep-{i}", "seconds": 0.3}, priority="high") for i in range(2)),
    ]
    ids = [r.pk for r in records]
    worker = start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk__in=ids, status__in=TERMINAL_STATUSES).count() == len(ids),
             timeout=60, message="every job of the mix to end")
    worker.stop()
    return ids


def direct():
    """Per (queue, job_type): the counts and every run and wait time, computed from the ledger as the
    rollup defines them (JobMinuteStat's docstring), one attempt at a time."""
    found = defaultdict(lambda: {"succeeded": 0, "failed": 0, "dead": 0, "run": [], "wait": []})
    attempts = {(a.record_id, a.number): a for a in JobAttempt.objects.select_related("record")}
    for (record_id, number), attempt in attempts.items():
        record = attempt.record
        if attempt.outcome in (Outcome.RUNNING, Outcome.CANCELED):
            continue
        counts = found[(attempt.queue, record.job_type)]
        if attempt.outcome == Outcome.SUCCEEDED:
            counts["succeeded"] += 1
        else:
            counts["failed"] += 1
            counts["dead"] += record.status == Status.DEAD and number == record.attempts
        if attempt.outcome != Outcome.LOST:
            counts["run"].append((attempt.ended_at - attempt.started_at).total_seconds() * 1000)
        ready = [record.created_at, record.run_at]
        if number == record.attempts:
            ready.append(record.queued_at)
        previous = attempts.get((record_id, number - 1))
        if previous is not None:
            ready.append(previous.ended_at + timedelta(seconds=previous.retry_delay or 0))
        counts["wait"].append(max(0.0, (attempt.started_at - max(t for t in ready if t)).total_seconds() * 1000))
    return found


def rolled_up(model=JobMinuteStat):
    """Per (queue, job_type): the rollup's rows summed over their minutes (or hours)."""
    totals = {}
    for row in model.objects.values("queue", "job_type", *rollups.COUNTS):
        total = totals.setdefault((row["queue"], row["job_type"]), dict.fromkeys(rollups.COUNTS, 0))
        for name in rollups.COUNTS:
            total[name] += row[name]
    return totals


def nearest_rank(values, fraction):
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def assert_rollup_equals_ledger():
    expected, got = direct(), rolled_up()
    assert set(got) == set(expected)
    assert rolled_up(JobHourStat) == got, "the hour rows add up to the minute rows"
    for key, counts in expected.items():
        row = got[key]
        assert (row["succeeded"], row["failed"], row["dead"]) == (counts["succeeded"], counts["failed"], counts["dead"]), key
        assert row["run_count"] == len(counts["run"]) and row["wait_count"] == len(counts["wait"]), key
        assert abs(row["run_ms"] - sum(counts["run"])) <= len(counts["run"]), key  # each rounded to the ms
        assert abs(row["wait_ms"] - sum(counts["wait"])) <= len(counts["wait"]), key
        run_buckets = [row[name] for name in rollups.RUN_BUCKETS]
        wait_buckets = [row[name] for name in rollups.WAIT_BUCKETS]
        for values, buckets in ((counts["run"], run_buckets), (counts["wait"], wait_buckets)):
            direct_buckets = [0] * len(buckets)
            for value in values:
                direct_buckets[rollups.bucket_of(value)] += 1
            assert buckets == direct_buckets, key
            for fraction in (0.5, 0.95):
                assert rollups.percentile_bucket(buckets, fraction) == rollups.bucket_of(nearest_rank(values, fraction)), key
    return got


def test_rollup_counts_and_percentiles_equal_the_ledger(start_worker):
    run_mix(start_worker, "first")
    report = rollups.aggregate()
    assert report["attempts"] == 3 + 2 * 2 + 3 + 2 + 2
    got = assert_rollup_equals_ledger()

    flaky = got[(JobRecord.objects.filter(job_type="test.flaky").first().queue, "test.flaky")]
    assert (flaky["succeeded"], flaky["failed"], flaky["dead"]) == (5, 2, 0), "a retried attempt fails, its job does not die"
    dead = got[(JobRecord.objects.filter(job_type="test.always_fails").first().queue, "test.always_fails")]
    assert (dead["succeeded"], dead["failed"], dead["dead"]) == (0, 3, 1)
    sleep_queue = JobRecord.objects.filter(job_type="test.sleep").first().queue
    assert sleep_queue.endswith(".high")
    sleeps = got[(sleep_queue, "test.sleep")]
    assert rollups.percentile_bucket([sleeps[n] for n in rollups.RUN_BUCKETS], 0.5) >= rollups.bucket_of(300), \
        "0.3 s jobs are shown as '< 500 ms' or more, never less than 250 ms"
    assert flaky["wait_count"] == 7, "every attempt has a queue wait, a retry's counted from its backoff's end"

    # A second pass finds nothing new: nothing is counted twice.
    again = rollups.aggregate()
    assert again["attempts"] == 0
    assert rolled_up() == got

    # A later pass adds exactly the jobs that ended since.
    run_mix(start_worker, "second")
    assert rollups.aggregate()["attempts"] == 14
    assert_rollup_equals_ledger()


def test_the_tick_catches_up_an_hour_at_a_time_then_runs_once_per_interval(settings):
    settings.JOBS_ROLLUP_INTERVAL = 3600
    started = timezone.now()
    rollups.aggregate_if_due()
    marks = [RollupMark.objects.get().through]
    assert started - marks[0] > timedelta(hours=22), "the first pass counts the first hour of the last day"
    while (report := rollups.aggregate_if_due()) is not None:
        marks.append(report["through"])
        assert len(marks) <= 30
    assert all(timedelta(0) < b - a <= rollups.CHUNK for a, b in zip(marks, marks[1:])), "an hour per tick"
    assert timezone.now() - marks[-1] < timedelta(seconds=5), "caught up"
    assert rollups.aggregate_if_due() is None, "not due again within JOBS_ROLLUP_INTERVAL"


def test_rollup_rows_past_their_keep_are_removed(settings):
    settings.JOBS_ROLLUP_KEEP_DAYS = 8
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    for days in (9, 8.1, 7.9, 1):
        stat(now - timedelta(days=days), "q", "t", succeeded=1)
    assert rollups.aggregate(now)["pruned"] == 2
    assert sorted((now - m).days for m in JobMinuteStat.objects.values_list("minute", flat=True)) == [1, 7]
    assert sorted((now - h).days for h in JobHourStat.objects.values_list("hour", flat=True)) == [1, 7]


def test_the_scheduler_brings_the_charts_up_to_date(start_worker, tmp_path):
    """``manage.py rqscheduler`` runs the pass on its own every ``JOBS_ROLLUP_INTERVAL`` seconds."""
    import subprocess
    import sys

    from tests.conftest import BASE_DIR, service_env

    now = timezone.now()  # rollups that are up to date, as in a running deployment
    RollupMark.objects.create(name=rollups.MARK, through=now, ran_at=now)
    log = open(tmp_path / "scheduler.log", "wb")
    scheduler = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", "jdtest.default"], cwd=BASE_DIR,
        env=service_env(JOBS_SYSTEM_INTERVAL=1, JOBS_ROLLUP_INTERVAL=1, JOBS_ROLLUP_LAG=0),
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: RollupMark.objects.filter(ran_at__gt=now).exists(), timeout=20,
                 message="the scheduler's first pass")
        records = [enqueue("test.flaky", {"marker": f"tick-{i}", "fail_times": 0}) for i in range(3)]
        start_worker()
        wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in records], status=Status.SUCCEEDED).count() == 3,
                 timeout=30, message="the jobs to succeed")
        counted = wait_for(lambda: sum(JobMinuteStat.objects.values_list("succeeded", flat=True)) == 3 or None,
                           timeout=20, fail=False)
        assert counted, (tmp_path / "scheduler.log").read_text()
        assert sum(JobHourStat.objects.values_list("succeeded", flat=True)) == 3
    finally:
        scheduler.terminate()
        scheduler.wait(10)
        log.close()


def test_an_operator_brings_the_charts_up_to_date_by_hand(start_worker):
    from io import StringIO

    from django.core.management import call_command

    run_mix(start_worker, "by-hand")
    out = StringIO()
    call_command("jobs_rollup", stdout=out)
    assert out.getvalue().startswith("counted 14 attempt(s) into "), out.getvalue()
    assert_rollup_equals_ledger()
