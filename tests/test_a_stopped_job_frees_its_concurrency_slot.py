"""A running job of a concurrency-limited type that ends outside the runner (canceled by staff, lost with
its worker, stopped past its timeout) gives its slot back at once: the type's next job starts within
seconds, not when the slot lapses (the job's timeout plus a minute; hours for an export)."""

from datetime import timedelta

import pytest

from jobs import concurrency, registry, rq_internals, services, states
from jobs.connection import redis_connection
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.reconciler import reconcile, record_timed_out
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# test.limited: one at a time per guild, its slot lapses 300 + 60 s after it was taken.
SOON = 20


def test_canceling_a_running_job_lets_the_next_one_start(start_worker, staff_user):
    guild = Guild.objects.create(name="Exports", slug="exports")
    long = enqueue("test.limited", {"marker": "long", "seconds": 30}, guild=guild)
    short = [enqueue("test.limited", {"marker": f"s{i}", "seconds": 0.1}, guild=guild) for i in range(3)]
    start_worker()
    running = wait_for(lambda: JobRecord.objects.filter(pk=long.pk, status=Status.RUNNING).first(), timeout=20)

    assert services.cancel_job(running, actor=staff_user)
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in short], status=Status.SUCCEEDED).count() == 3,
             timeout=SOON, message="the other jobs to run once the canceled one gave its slot back")
    assert JobRecord.objects.get(pk=long.pk).status == Status.CANCELED


def _running_without_a_worker(guild, **options):
    """A record claimed by a worker that is gone (as after a crash), holding its type's only slot."""
    record = enqueue("test.limited", {"marker": "orphan", "seconds": 0}, guild=guild, **options)
    rq_internals.forget(redis_connection(), [(record.rq_id, record.queue)])
    claimed, _ = states.start_attempt(record.pk, worker="gone-worker")
    assert claimed is not None
    assert concurrency.acquire(registry.get("test.limited"), guild.pk, record.rq_id)
    return claimed


@pytest.mark.parametrize("end, options, status", [
    ("lost", {}, Status.DEAD),
    ("timed out", {}, Status.DEAD),
    ("timed out", {"max_attempts": 2, "backoff": 300}, Status.RETRYING),  # its retry waits; the others need not
])
def test_a_job_ended_by_its_workers_death_lets_the_next_one_start(start_worker, end, options, status):
    guild = Guild.objects.create(name="Exports", slug="exports")
    orphan = _running_without_a_worker(guild, **options)

    if end == "lost":
        assert reconcile(running_grace=timedelta(0))["lost"] == 1
    else:
        assert record_timed_out(orphan.pk, 5)
    assert JobRecord.objects.get(pk=orphan.pk).status == status

    following = enqueue("test.limited", {"marker": "next", "seconds": 0}, guild=guild)
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=following.pk, status=Status.SUCCEEDED).exists(), timeout=SOON,
             message="the next job to run once the ended one gave its slot back")


def test_a_lost_job_retried_at_once_keeps_its_slot(clean_redis):
    guild = Guild.objects.create(name="Exports", slug="exports")
    orphan = _running_without_a_worker(guild, max_attempts=2)
    assert reconcile(running_grace=timedelta(0))["lost"] == 1
    assert JobRecord.objects.get(pk=orphan.pk).status == Status.RETRYING
    other = concurrency.acquire(registry.get("test.limited"), guild.pk, "another-job")
    assert not other, "the retry, queued at once, takes back its own slot; no other job slips in before it"


def test_a_cancel_while_redis_is_away_still_stands(private_redis, staff_user, caplog):
    guild = Guild.objects.create(name="Exports", slug="exports")
    orphan = _running_without_a_worker(guild)
    private_redis.stop()

    assert services.cancel_job(orphan, actor=staff_user), "the slot lapses on its own; the cancel is not refused"
    assert JobRecord.objects.get(pk=orphan.pk).status == Status.CANCELED
    assert "not released" in caplog.text
