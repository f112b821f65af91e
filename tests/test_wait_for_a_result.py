"""Waiting for a result: ``record.wait(timeout=…)`` and ``GET /api/jobs/<id>?wait=<seconds>`` return as
soon as the job ends (succeeded, dead, canceled by staff), woken by Redis rather than by polling the
ledger, or at the timeout with the job's current status; another guild's job is a 404 at once."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import services
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import JobRecord, Status
from jobs.waiting import channel
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = timedelta(milliseconds=100)


class Waiter(threading.Thread):
    """Runs ``wait`` in a thread of its own (its own database connection), noting when it returned."""

    def __init__(self, wait):
        super().__init__(daemon=True)
        self.wait, self.value, self.error, self.returned_at = wait, None, None, None

    def run(self):
        try:
            self.value = self.wait()
            self.returned_at = timezone.now()
        except BaseException as exc:  # handed to the test
            self.error = exc
        finally:
            connections.close_all()

    def result(self, timeout=30):
        self.join(timeout)
        assert not self.is_alive(), "the waiter is still waiting"
        if self.error:
            raise self.error
        return self.value


def subscribed(conn, record):
    return dict(conn.pubsub_numsub(channel(record.pk))).get(channel(record.pk).encode(), 0) >= 1


@pytest.mark.parametrize("job_type, payload, status, ended", [
    ("test.sleep", {"marker": "w-ok", "seconds": 1}, Status.SUCCEEDED, "succeeded_at"),
    ("test.permanent", {"marker": "w-dead"}, Status.DEAD, "dead_at"),
])
def test_wait_returns_within_100_ms_of_the_job_ending(start_worker, job_type, payload, status, ended):
    record = enqueue(job_type, payload)
    start_worker()
    with CaptureQueriesContext(connection) as queries:
        record.wait(timeout=20)
    returned_at = timezone.now()

    assert record.status == status, "the instance is brought up to date"
    lag = returned_at - getattr(record, ended)
    assert timedelta(0) <= lag < PROMPT, f"wait returned {lag.total_seconds() * 1000:.0f} ms after the job ended"
    assert len(queries) <= 2, f"the ledger is read once after subscribing and once at the end: {queries.captured_queries}"


def test_a_job_that_does_not_end_in_time_returns_at_the_timeout_with_its_status(start_worker):
    record = enqueue("test.sleep", {"marker": "w-slow", "seconds": 3})
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.RUNNING).exists(), timeout=20)

    started = time.monotonic()
    assert record.wait(timeout=1).status == Status.RUNNING
    assert 1.0 <= time.monotonic() - started < 2.5  # at its timeout, not at the job's end (3 s)

    assert record.wait(timeout=10).status == Status.SUCCEEDED
    assert record.result == {"slept": 3}


def test_a_waiter_for_a_job_canceled_by_staff_returns_at_once(start_worker, clean_redis, staff_user):
    record = enqueue("test.sleep", {"marker": "w-cancel", "seconds": 30})
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.RUNNING).exists(), timeout=20)
    waiter = Waiter(lambda: JobRecord.objects.get(pk=record.pk).wait(timeout=20))
    waiter.start()
    wait_for(lambda: subscribed(clean_redis, record), timeout=5, message="the waiter's subscription")

    record.refresh_from_db()
    assert services.cancel_job(record, actor=staff_user)
    waited = waiter.result()
    assert waited.status == Status.CANCELED
    lag = waiter.returned_at - waited.canceled_at
    assert lag < PROMPT, f"the waiter returned {lag.total_seconds() * 1000:.0f} ms after the cancel"


def test_the_api_long_poll_answers_with_the_final_status_as_soon_as_the_job_ends(start_worker, world):
    record = enqueue("test.sleep", {"marker": "w-api", "seconds": 1}, guild=world["mine"])
    client = Client()
    client.force_login(world["member"])
    start_worker()

    response = client.get(f"/api/jobs/{record.pk}?wait=20")
    returned_at = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded" and body["result"] == {"slept": 1}
    assert [a["outcome"] for a in body["attempt_log"]] == ["succeeded"]
    lag = returned_at - JobRecord.objects.get(pk=record.pk).succeeded_at
    assert timedelta(0) <= lag < PROMPT, f"the long poll answered {lag.total_seconds() * 1000:.0f} ms after the end"


def test_the_api_long_poll_answers_at_its_timeout_with_the_current_status(world):
    record = enqueue("test.sleep", {"marker": "w-api-wait", "seconds": 0}, guild=world["mine"])  # no worker
    client = Client()
    client.force_login(world["admin"])
    started = time.monotonic()
    response = client.get(f"/api/jobs/{record.pk}?wait=0.5")
    assert 0.5 <= time.monotonic() - started < 5  # at its timeout: the job never ends here
    assert response.status_code == 200 and response.json()["status"] == "queued"


def test_one_caller_may_hold_only_a_few_long_polls_at_once(world, clean_redis):
    """Each long poll holds a server worker: a sixth at once from the same person is 429 at once (the five
    under way are counted in Redis, across server processes); a status without ``wait`` is always served,
    and a finished long poll gives its place back."""
    from django.conf import settings

    from jobs.api import MAX_WAITS_PER_CALLER

    record = enqueue("test.sleep", {"marker": "w-many", "seconds": 0}, guild=world["mine"])  # no worker
    client = Client()
    client.force_login(world["admin"])
    key = f"{settings.QUEUE_NAMESPACE}:waits:user:{world['admin'].pk}"
    clean_redis.set(key, MAX_WAITS_PER_CALLER)  # five under way in other server workers
    started = time.monotonic()
    refused = client.get(f"/api/jobs/{record.pk}?wait=5")
    assert time.monotonic() - started < 2, "refused at once"
    assert refused.status_code == 429 and refused.json()["field"] == "wait", refused.content
    assert client.get(f"/api/jobs/{record.pk}").status_code == 200
    other = Client()
    other.force_login(world["member"])
    assert other.get(f"/api/jobs/{record.pk}?wait=0.2").status_code == 200, "another person's own count"

    clean_redis.set(key, MAX_WAITS_PER_CALLER - 1)  # one of them answered
    assert client.get(f"/api/jobs/{record.pk}?wait=0.2").status_code == 200
    assert int(clean_redis.get(key)) == MAX_WAITS_PER_CALLER - 1, "its place given back"


def test_another_guilds_job_is_a_404_without_waiting(world):
    record = enqueue("test.sleep", {"marker": "w-other", "seconds": 0}, guild=world["mine"])  # never ends: no worker
    client = Client()
    client.force_login(world["other_admin"])
    started = time.monotonic()
    response = client.get(f"/api/jobs/{record.pk}?wait=30")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert time.monotonic() - started < 5, "refused at once, not after the 30 s wait"


def test_a_wait_outside_0_to_30_seconds_is_refused_naming_wait(world):
    record = enqueue("test.sleep", {"marker": "w-bad", "seconds": 0}, guild=world["mine"])
    client = Client()
    client.force_login(world["admin"])
    for wait in ["31", "-1", "nan", "soon"]:
        started = time.monotonic()
        response = client.get(f"/api/jobs/{record.pk}?wait={wait}")
        assert 400 <= response.status_code < 500, wait
        assert response.json()["field"] == "wait", (wait, response.json())
        assert time.monotonic() - started < 5, wait  # refused at once, not after a wait


@pytest.mark.parametrize("timeout", [-1, 3601, float("inf"), float("nan"), None, "10", True])
def test_wait_refuses_a_negative_or_absurd_timeout(timeout):
    record = enqueue("test.sleep", {"marker": "w-bad-timeout", "seconds": 0})
    with pytest.raises(JobError) as refused:
        record.wait(timeout=timeout)
    assert refused.value.field == "timeout"


def test_with_redis_down_a_staff_cancel_still_works_and_its_waiter_returns(private_redis, staff_user):
    record = enqueue("test.sleep", {"marker": "w-down", "seconds": 0})
    private_redis.stop()
    waiter = Waiter(lambda: JobRecord.objects.get(pk=record.pk).wait(timeout=10))
    waiter.start()
    time.sleep(0.2)

    assert services.cancel_job(record, actor=staff_user), "the end's notification never raises"
    assert JobRecord.objects.get(pk=record.pk).status == Status.CANCELED
    started = time.monotonic()
    assert waiter.result().status == Status.CANCELED
    assert time.monotonic() - started < 4, "without Redis the waiter reads the ledger once a second, not at its 10 s timeout"
