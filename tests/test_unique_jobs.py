"""A job type declared ``unique`` has one record per key in its scope: a second enqueue returns the record
that holds the key (``created is False``; the API answers 200 with it instead of 202), also when several
enqueues race, because the database's partial unique index decides, not a check before the insert."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections, transaction
from django.test import Client

from jobs import services
from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def enqueue_at_once(job_type, payload, **kwargs):
    """``THREADS`` enqueues of one job, each in its own transaction and connection, released together."""
    barrier = threading.Barrier(THREADS)

    def one(_):
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                record = enqueue(job_type, payload, **kwargs)
                time.sleep(0.05)  # hold the transaction open: the others must wait for it, then see it
            return record.pk, record.created
        finally:
            connections.close_all()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS)))


@pytest.mark.parametrize("job_type", ["test.unique_waiting", "test.unique_active", "test.unique_period"])
def test_concurrent_enqueues_of_one_key_make_one_record(job_type):
    guild = Guild.objects.create(name="Mine", slug="mine")
    results = enqueue_at_once(job_type, {"report_id": 7}, guild=guild.pk)
    assert JobRecord.objects.filter(job_type=job_type).count() == 1
    winner = JobRecord.objects.get(job_type=job_type)
    assert {pk for pk, _ in results} == {winner.pk}, "every caller got the one record"
    assert sorted(created for _, created in results) == [False] * (THREADS - 1) + [True]


def test_waiting_scope_ends_when_the_job_starts_and_a_new_one_is_created(start_worker, clean_redis):
    guild = Guild.objects.create(name="Mine", slug="mine")
    first = enqueue("test.unique_waiting", {"report_id": 1, "seconds": 1.5}, guild=guild)
    again = enqueue("test.unique_waiting", {"report_id": 1, "seconds": 1.5}, guild=guild)
    assert first.created is True and again.created is False and again.pk == first.pk
    other_key = enqueue("test.unique_waiting", {"report_id": 2}, guild=guild)
    assert other_key.created is True and other_key.pk != first.pk
    other_guild = enqueue("test.unique_waiting", {"report_id": 1}, guild=Guild.objects.create(name="O", slug="o"))
    assert other_guild.created is True, "the key names the guild: another guild's job is another key"

    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=first.pk, status=Status.RUNNING).exists(), timeout=20)
    while_running = enqueue("test.unique_waiting", {"report_id": 1}, guild=guild)
    assert while_running.created is True and while_running.pk != first.pk, "waiting scope: a running job holds no key"
    wait_for(lambda: JobRecord.objects.filter(pk__in=[first.pk, while_running.pk], status=Status.SUCCEEDED).count() == 2,
             timeout=20)
    after = enqueue("test.unique_waiting", {"report_id": 1}, guild=guild)
    assert after.created is True
    assert clean_redis.llen("test-runs:unique-1") >= 2


def test_active_scope_holds_while_running_and_ends_when_the_job_ends(start_worker):
    first = enqueue("test.unique_active", {"report_id": 3, "seconds": 1.5})
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=first.pk, status=Status.RUNNING).exists(), timeout=20)
    running = enqueue("test.unique_active", {"report_id": 3})
    assert running.created is False and running.pk == first.pk and running.status == Status.RUNNING
    wait_for(lambda: JobRecord.objects.filter(pk=first.pk, status=Status.SUCCEEDED).exists(), timeout=20)
    after = enqueue("test.unique_active", {"report_id": 3})
    assert after.created is True and after.pk != first.pk


def test_a_staff_retry_is_refused_while_another_job_holds_the_key():
    first = enqueue("test.unique_active", {"report_id": 4})
    assert services.cancel_job(first)
    second = enqueue("test.unique_active", {"report_id": 4})
    assert second.created is True, "a canceled job holds no key"
    assert services.retry_job(JobRecord.objects.get(pk=first.pk)) is False
    assert JobRecord.objects.get(pk=first.pk).status == Status.CANCELED
    assert services.cancel_job(second)
    assert services.retry_job(JobRecord.objects.get(pk=first.pk)) is True, "the key is free again"


def test_period_scope_holds_for_its_period_whatever_the_status():
    first = enqueue("test.unique_period", {"report_id": 5})
    assert services.cancel_job(first)
    assert enqueue("test.unique_period", {"report_id": 5}).pk == first.pk, "still within the period"
    time.sleep(1.1)
    later = enqueue("test.unique_period", {"report_id": 5})
    assert later.created is True and later.pk != first.pk


def test_a_batch_returns_the_holder_for_each_duplicate():
    held = enqueue("test.unique_active", {"report_id": 10})
    records = enqueue_many("test.unique_active", [{"report_id": 10}, {"report_id": 11}, {"report_id": 11}])
    assert [r.created for r in records] == [False, True, False]
    assert records[0].pk == held.pk and records[2].pk == records[1].pk
    assert JobRecord.objects.filter(job_type="test.unique_active").count() == 2


def test_the_api_answers_200_with_the_existing_job(staff_user):
    client = Client()
    client.force_login(staff_user)

    def post():
        return client.post("/api/jobs", data=json.dumps({"job_type": "test.unique_active", "payload": {"report_id": 9}}),
                           content_type="application/json")

    first, second = post(), post()
    assert first.status_code == 202, first.content
    assert second.status_code == 200, second.content
    assert second.json()["id"] == first.json()["id"] and second.json()["created"] is False
    assert second.json()["status_url"].endswith(f"/api/jobs/{first.json()['id']}")
    assert JobRecord.objects.filter(job_type="test.unique_active").count() == 1
    status = client.get(second.json()["status_url"]).json()
    assert status["unique"] == {"key": JobRecord.objects.get().unique_key, "scope": "active", "until": None}


def test_the_conflict_targets_match_the_indexes_word_for_word():
    """SQLite (make run) takes an ON CONFLICT target only if its WHERE has the index's terms in order."""
    import importlib

    from jobs import unique

    migration = importlib.import_module("jobs.migrations.0009_unique_and_options")
    conditions = {name: condition for name, _, _, condition in migration.INDEXES}
    assert unique._CONDITIONS[unique.WAITING] == conditions["job_unique_waiting"]
    assert unique._CONDITIONS[unique.ACTIVE] == conditions["job_unique_active"]
