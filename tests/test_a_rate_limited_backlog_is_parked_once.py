"""A backlog of a rate-limited type is parked about once a job, whatever its length: a job over the limit
keeps the future slot it was told of, so it comes back to that slot rather than to a crowd asking for the
same one. The jobs start one interval apart, in order, and the queues page counts only the jobs already
started in the current window, not the slots reserved ahead."""

import pytest

from jobs import ratelimit, registry
from jobs.enqueue import enqueue_many
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = 6
EVERY = 2.0  # test.rate_1_per_2s: one start per 2 s


def runs(conn, marker):
    """``[(start time, record id, times parked before it ran)]`` in start order."""
    rows = [item.decode().split(":") for item in conn.lrange(f"test-parks:{marker}", 0, -1)]
    return sorted((float(t), record, int(parks)) for t, record, parks in rows)


def test_each_job_of_a_backlog_is_parked_at_most_once_and_they_start_one_interval_apart(start_worker, clean_redis):
    records = enqueue_many("test.rate_1_per_2s", [{"marker": "backlog"}] * JOBS)
    start_worker()
    start_worker()  # two workers: while one sleeps out the next slot, the other parks the rest

    wait_for(lambda: clean_redis.llen("test-parks:backlog") == JOBS, timeout=30, message=f"{JOBS} starts")
    started = runs(clean_redis, "backlog")
    parks = [p for _, _, p in started]
    assert max(parks) <= 1, f"times each job was parked, in start order: {parks} (taken {sum(parks) + JOBS} times)"
    gaps = [round(b - a, 2) for (a, *_), (b, *_) in zip(started, started[1:])]
    assert all(EVERY - 0.05 <= gap <= EVERY + 0.6 for gap in gaps), f"seconds between starts: {gaps}"
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in records], status=Status.SUCCEEDED).count()
             == JOBS, timeout=10)
    assert set(JobRecord.objects.filter(pk__in=[r.pk for r in records]).values_list("attempts", flat=True)) == {1}


def test_the_queues_page_counts_the_jobs_started_not_the_slots_reserved_ahead(clean_redis):
    job_type = registry.get("test.rate_1_per_2s")
    assert ratelimit.admit(job_type, None, "first") == (True, 0.0)
    admitted, wait = ratelimit.admit(job_type, None, "second")  # its slot is 2 s ahead: slept out or parked
    assert 1.9 < wait <= 2.0

    [row] = [row for row in ratelimit.overview() if row["job_type"] == "test.rate_1_per_2s"]
    assert (row["current"], row["throttled"]) == (1, True), row


def test_a_parked_job_keeps_its_slot_and_the_next_job_is_given_the_one_after(clean_redis):
    job_type = registry.get("test.rate_2_per_4s_per_guild")  # 2 per 4 s; no guild: one shared budget
    assert [ratelimit.admit(job_type, None, name)[0] for name in ("a", "b")] == [True, True]
    parked = {name: ratelimit.admit(job_type, None, name) for name in ("c", "d", "e")}
    assert [admitted for admitted, _ in parked.values()] == [False, False, False]
    assert [round(wait) for _, wait in parked.values()] == [4, 4, 8]

    # "c" back early (a second later, say): told the same slot, and no other slot is taken for it.
    admitted, wait = ratelimit.admit(job_type, None, "c")
    assert not admitted and abs(wait - parked["c"][1]) < 0.1
    assert round(ratelimit.admit(job_type, None, "f")[1]) == 8, "a slot was taken twice for the same job"

    # Parked for what park_for says, it is back (RQ files it to the whole second) before its slot, and
    # no earlier than a worker sleeps out.
    seconds = ratelimit.park_for(wait)
    assert wait - (ratelimit.SLEEP_AT_MOST + ratelimit.RETURN_SLACK) - 0.01 <= seconds <= wait - 1, seconds
