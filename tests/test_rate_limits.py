"""Rate limits per job type, shared by every worker: jobs over the limit wait, queued and unclaimed, and
start when a slot frees — the declared rate is held, each guild has its own budget, no attempt is spent
on a wait, and the queues page shows the type throttled with its current rate."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord, Status
from jobs.ratelimit import RateLimit
from jobs.reconciler import reconcile
from jobs.registry import job_type
from project.models import Guild
from tests.conftest import make_staff, wait_for
from tests.jobtypes import Marker

pytestmark = pytest.mark.django_db(transaction=True)


def starts(conn, marker):
    """``[(time, guild id, record id, attempt)]`` of every run, in start order."""
    rows = [item.decode().split(":") for item in conn.lrange(f"test-starts:{marker}", 0, -1)]
    return sorted((float(t), guild, record, int(attempt)) for t, guild, record, attempt in rows)


def most_in_any_window(times, seconds):
    """The largest number of ``times`` inside any window ``[t, t + seconds)``."""
    times = sorted(times)
    return max(sum(1 for u in times[i:] if u < t + seconds) for i, t in enumerate(times))


def test_twenty_per_second_is_held_by_two_workers_and_no_attempt_is_spent_waiting(start_worker, clean_redis):
    records = enqueue_many("test.rate_20_per_second", [{"marker": "r20"}] * 220)
    start_worker()
    start_worker()
    wait_for(lambda: clean_redis.llen("test-starts:r20") == 220, timeout=30, message="220 runs")

    times = [t for t, *_ in starts(clean_redis, "r20")]
    first = times[0]
    central = [t for t in times if first + 0.5 <= t < first + 9.5]  # nine whole windows, edges left out
    rate = len(central) / 9
    burst = sum(1 for t in times if t < first + 1)  # nothing throttles the first second's 20
    assert 18 <= rate <= 22, (f"{rate:.1f} jobs/s over the central 9 s, declared 20/s (the unthrottled first "
                              f"second started {burst}: under 20 means the workers could not keep up)")
    assert most_in_any_window(times, 0.9) <= 20, "more than 20 started within one second"
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in records], status=Status.SUCCEEDED).count()
             == 220, timeout=10)
    assert set(JobRecord.objects.filter(pk__in=[r.pk for r in records]).values_list("attempts", flat=True)) == {1}


def test_each_guild_has_its_own_budget_and_a_parked_job_waits_queued(start_worker, clean_redis, client):
    red, blue = Guild.objects.create(name="Red", slug="red"), Guild.objects.create(name="Blue", slug="blue")
    for guild in (red, blue):
        enqueue_many("test.rate_2_per_4s_per_guild", [{"marker": "pg"}] * 3, guild=guild)
    start_worker()
    start_worker()
    wait_for(lambda: clean_redis.llen("test-starts:pg") == 4, timeout=20, message="both guilds' first two")
    first = starts(clean_redis, "pg")
    assert first[-1][0] - first[0][0] < 1, "the second guild did not wait for the first one's budget"
    assert sorted(guild for _, guild, *_ in first) == sorted([str(red.pk)] * 2 + [str(blue.pk)] * 2)

    # The third job of each guild waits for its guild's window: queued in the ledger, no attempt,
    # parked in RQ's scheduled registry, and the reconciler leaves it there.
    thirds = [r.pk for r in JobRecord.objects.filter(status=Status.QUEUED)]
    assert len(thirds) == 2
    def parked():
        return all(RQJob.fetch(str(pk), connection=clean_redis, serializer=JSONSerializer).get_status() == "scheduled"
                   for pk in thirds)

    wait_for(parked, timeout=5, message="the third jobs parked")
    assert reconcile(waiting_grace=timedelta(0)) == {"lost": 0, "requeued": 0}
    assert {(r.status, r.attempts) for r in JobRecord.objects.filter(pk__in=thirds)} == {(Status.QUEUED, 0)}

    # A worker is not held up meanwhile: an unlimited job runs at once.
    other = enqueue("test.flaky", {"marker": "other", "fail_times": 0})
    wait_for(lambda: JobRecord.objects.filter(pk=other.pk, status=Status.SUCCEEDED).exists(), timeout=3)
    assert clean_redis.llen("test-starts:pg") == 4

    # A caller asking for the job's status is told it is queued, held by the rate limit, and until when.
    client.force_login(make_staff("ops", "Job viewers"))
    status = client.get(f"/api/jobs/{thirds[0]}").json()
    assert (status["status"], status["attempts"], status["held"]["reason"]) == ("queued", 0, "rate_limit")
    until = datetime.fromisoformat(status["held"]["until"])
    assert timezone.now() < until < timezone.now() + timedelta(seconds=5), status["held"]

    # The queues page shows the type throttled, with the busiest guild's jobs in the current window.
    page = client.get(reverse("admin:jobs_queues")).content.decode()
    assert 'id="rate-test.rate_2_per_4s_per_guild"' in page and "throttled" in page and "2/4s per guild" in page

    wait_for(lambda: clean_redis.llen("test-starts:pg") == 6, timeout=10, message="the third jobs")
    runs = starts(clean_redis, "pg")
    for guild in (red, blue):
        mine = [t for t, g, *_ in runs if g == str(guild.pk)]
        assert 3.9 <= mine[2] - mine[0] <= 4.6, f"third job started {mine[2] - mine[0]:.2f}s after the first"
    wait_for(lambda: JobRecord.objects.filter(status=Status.SUCCEEDED).count() == 7, timeout=5)
    assert set(JobRecord.objects.values_list("attempts", flat=True)) == {1}


@pytest.mark.parametrize("spec, problem", [
    ("20/fortnight", "unknown unit"),
    ("twenty/s", "not like"),
    ("0/s", "limit must be"),
    ("5/0s", "per must be"),
    (20, "must be a RateLimit or a string"),
])
def test_a_bad_rate_limit_is_refused_at_declaration(spec, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        job_type("test.never_declared", payload=Marker, rate_limit=spec)(lambda payload, ctx: None)
    assert "test.never_declared" in str(caught.value)


def test_rate_limit_strings():
    assert RateLimit.parse("20/s") == RateLimit(20, per=1.0)
    assert RateLimit.parse("10/m per guild") == RateLimit(10, per=60, by_guild=True)
    assert RateLimit.parse("5 / 30 seconds") == RateLimit(5, per=30)
    assert str(RateLimit(10, per=60, by_guild=True)) == "10/m per guild"
