"""Redis down at enqueue time loses nothing: the record stays pending and the relay sends it later."""

import pytest

from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.relay import relay_pending
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_record_is_pending_while_redis_is_down_and_relayed_when_it_is_back(private_redis, start_worker):
    private_redis.stop()

    record = enqueue("test.sleep", {"marker": "outage", "seconds": 0})

    assert record.status == Status.PENDING, "the caller gets its record, pending"
    assert JobRecord.objects.get(pk=record.pk).status == Status.PENDING
    assert AuditEvent.objects.filter(resource_id=str(record.pk), action="job.pending").exists()
    assert relay_pending() == 0, "the relay cannot send while Redis is down, and does not fail"
    assert JobRecord.objects.get(pk=record.pk).status == Status.PENDING

    private_redis.start()
    assert relay_pending() == 1
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
    start_worker()
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=20)
    assert done.attempts == 1


def test_two_relays_at_once_send_each_pending_job_once(private_redis):
    private_redis.stop()
    records = [enqueue("test.sleep", {"marker": f"r{i}", "seconds": 0}) for i in range(20)]
    assert all(r.status == Status.PENDING for r in records)
    private_redis.start()

    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    def relay():
        try:
            return relay_pending()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(lambda _: relay(), range(2)))
    assert sum(counts) == 20
    from jobs.connection import get_queue

    ids = get_queue(records[0].queue).get_job_ids()
    assert sorted(ids) == sorted(str(r.pk) for r in records), "each job is in Redis exactly once"


def test_the_api_answers_202_with_a_pending_job_while_redis_is_down(private_redis, client, staff_user):
    private_redis.stop()
    client.force_login(staff_user)
    response = client.post("/api/jobs", {"job_type": "test.sleep", "payload": {"marker": "api", "seconds": 0}},
                           content_type="application/json")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert JobRecord.objects.get(pk=response.json()["id"]).status == Status.PENDING
