"""A job type with a per-guild concurrency limit: more jobs than slots wait, queued, and all run."""

import pytest

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def spans(conn, guild):
    events = [item.decode().split(":") for item in conn.lrange(f"test-spans:{guild.pk}", 0, -1)]
    starts = {record: float(t) for kind, t, record in events if kind == "start"}
    ends = {record: float(t) for kind, t, record in events if kind == "end"}
    return sorted((starts[r], ends[r]) for r in starts)


def test_one_guild_runs_one_at_a_time_while_another_guild_is_not_held_up(start_worker, clean_redis):
    busy, quiet = Guild.objects.create(name="Busy", slug="busy"), Guild.objects.create(name="Quiet", slug="quiet")
    held = [enqueue("test.limited", {"marker": f"b{i}", "seconds": 1.5}, guild=busy) for i in range(3)]
    start_worker()
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in held], status=Status.RUNNING).exists(), timeout=20)
    other = enqueue("test.limited", {"marker": "q", "seconds": 0.2}, guild=quiet)

    waiting = JobRecord.objects.filter(pk__in=[r.pk for r in held], status=Status.QUEUED)
    assert waiting.exists() and all(r.attempts == 0 for r in waiting), "the others wait, queued, unclaimed"
    wait_for(lambda: JobRecord.objects.filter(pk=other.pk, status=Status.SUCCEEDED).exists(), timeout=10)
    assert JobRecord.objects.filter(pk__in=[r.pk for r in held], status=Status.SUCCEEDED).count() < 3, \
        "the other guild did not wait for the busy one"
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in held], status=Status.SUCCEEDED).count() == 3,
             timeout=40)

    runs = spans(clean_redis, busy)
    assert len(runs) == 3
    assert all(runs[i][1] <= runs[i + 1][0] for i in range(2)), f"runs overlapped: {runs}"
    assert all(r.attempts == 1 for r in JobRecord.objects.filter(pk__in=[r.pk for r in held]))
