"""``enqueue(..., max_attempts=, backoff=, timeout=, priority=)`` override the job type's declaration for one
job; the record keeps them, so a real worker obeys them on every attempt. Bad values are refused naming
the option, with nothing written; the API takes the same options."""

import json

import pytest
from django.test import Client

from jobs.enqueue import enqueue, enqueue_many
from jobs.errors import JobError
from jobs.models import JobAttempt, JobRecord, Outcome, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def ended(record, *statuses):
    return JobRecord.objects.filter(pk=record.pk, status__in=statuses).first()


def test_per_call_max_attempts_one_dies_after_one_attempt_although_the_type_says_five(start_worker, clean_redis):
    record = enqueue("test.flaky", {"marker": "once", "fail_times": 10}, max_attempts=1)
    default = enqueue("test.flaky", {"marker": "default", "fail_times": 1})
    start_worker()
    dead = wait_for(lambda: ended(record, Status.DEAD), timeout=20)
    assert dead.attempts == 1 and dead.max_attempts == 1
    assert clean_redis.llen("test-runs:once") == 1
    assert "attempts exhausted (1 of 1)" in dead.status_note["reason"]
    retried = wait_for(lambda: ended(default, Status.SUCCEEDED), timeout=20)
    assert retried.attempts == 2 and retried.max_attempts == 5, "other jobs of the type keep its declaration"


def test_per_call_timeout_stops_a_job_the_type_would_let_run(start_worker):
    record = enqueue("test.sleep", {"marker": "slow", "seconds": 8}, timeout=1, max_attempts=1)
    start_worker()
    dead = wait_for(lambda: ended(record, Status.DEAD), timeout=15)
    attempt = JobAttempt.objects.get(record=dead)
    assert attempt.outcome == Outcome.TIMEOUT
    assert (attempt.ended_at - attempt.started_at).total_seconds() < 5, "stopped at 1 s, not the type's 120 s"


def test_per_call_backoff_sets_the_delay_before_the_next_attempt(start_worker):
    record = enqueue("test.always_fails", {"marker": "b"}, max_attempts=2, backoff={"type": "fixed", "seconds": 4})
    assert record.options == {"max_attempts": 2, "backoff": {"type": "fixed", "seconds": 4}}
    start_worker()
    wait_for(lambda: ended(record, Status.RETRYING), timeout=20)
    assert JobAttempt.objects.get(record=record, number=1).retry_delay == 4, "the type says 1 s"


@pytest.mark.django_db  # no worker, no on_commit: a rolled-back test is enough
@pytest.mark.parametrize("number, level", [(1, "high"), (3, "high"), (4, "default"), (0, "default"), (7, "default"),
                                           (8, "low"), (2_097_152, "low")])
def test_a_bullmq_priority_number_maps_onto_a_level(number, level):
    record = enqueue("test.flaky", {"marker": "p", "fail_times": 0}, priority=number)
    assert record.priority == level and record.queue.endswith(".high" if level == "high" else ".low" if level == "low" else "default")


@pytest.mark.django_db  # no worker, no on_commit: a rolled-back test is enough
@pytest.mark.parametrize("options, field", [
    ({"max_attempts": 0}, "max_attempts"), ({"max_attempts": "3"}, "max_attempts"), ({"max_attempts": True}, "max_attempts"),
    ({"timeout": 0}, "timeout"), ({"timeout": 1.5}, "timeout"), ({"priority": -1}, "priority"),
    ({"priority": 2_097_153}, "priority"), ({"priority": "urgent"}, "priority"), ({"backoff": lambda n: 1}, "backoff"),
    ({"backoff": {"type": "linear"}}, "backoff.type"), ({"backoff": {"type": "fixed", "seconds": -1}}, "backoff.seconds"),
    ({"backoff": {"type": "fixed", "delay": 1}}, "backoff.delay"),
])
def test_a_bad_option_is_refused_naming_it_and_nothing_is_written(options, field):
    with pytest.raises(JobError) as error:
        enqueue("test.flaky", {"marker": "x", "fail_times": 0}, **options)
    assert error.value.field == field
    with pytest.raises(JobError):
        enqueue_many("test.flaky", [{"marker": "x", "fail_times": 0}], **options)
    assert not JobRecord.objects.exists()


@pytest.mark.django_db  # no worker, no on_commit: a rolled-back test is enough
def test_a_batch_takes_the_options_for_every_job():
    records = enqueue_many("test.flaky", [{"marker": "a", "fail_times": 0}] * 3, max_attempts=2, timeout=9, priority=2)
    stored = JobRecord.objects.filter(pk__in=[r.pk for r in records])
    assert {(r.max_attempts, r.options["timeout"], r.priority) for r in stored} == {(2, 9, "high")}


def test_the_api_takes_the_options_and_refuses_bad_ones_naming_them(staff_user):
    client = Client()
    client.force_login(staff_user)

    def post(**body):
        return client.post("/api/jobs", content_type="application/json", data=json.dumps(
            {"job_type": "test.flaky", "payload": {"marker": "api", "fail_times": 0}, **body}))

    response = post(max_attempts=1, timeout=30, priority=1, backoff={"type": "exponential", "base": 1, "jitter": False})
    assert response.status_code == 202, response.content
    record = JobRecord.objects.get(pk=response.json()["id"])
    assert (record.max_attempts, record.priority) == (1, "high")
    assert record.options["timeout"] == 30 and record.options["backoff"]["type"] == "exponential"
    status = client.get(response.json()["status_url"]).json()
    assert (status["max_attempts"], status["priority"], status["options"]) == (1, "high", record.options)
    for bad in [{"max_attempts": "1"}, {"max_attempts": 0}, {"timeout": 1.5}, {"priority": 1.0},
                {"backoff": {"type": "fixed", "seconds": "3"}}, {"backoff": {"type": "fixed", "delay": 3}}]:
        refused = post(**bad)
        assert refused.status_code in (400, 422), (bad, refused.content)
        assert next(iter(bad)) in json.dumps(refused.json()), (bad, refused.json())
    assert JobRecord.objects.count() == 1


@pytest.mark.django_db
def test_the_job_page_shows_the_jobs_timeout_backoff_and_detection_time(staff_user, settings):
    settings.QUEUE_JOB_HEARTBEAT, settings.QUEUE_HEARTBEAT_GRACE, settings.JOBS_SYSTEM_INTERVAL = 5, 10, 5
    own = enqueue("test.sleep", {"marker": "page", "seconds": 0}, timeout=30)
    typed = enqueue("test.sleep", {"marker": "page", "seconds": 0}, backoff={"type": "fixed", "seconds": 7})
    client = Client()
    client.force_login(staff_user)
    page = client.get(f"/admin/jobs/jobrecord/{own.pk}/change/").content.decode()
    assert "timeout 30 s (this job&#x27;s)" in page and "backoff fixed: 1 s (the type&#x27;s)" in page
    assert "detected within 20 s (heartbeat 5 + grace 10 + reconciler interval 5)" in page
    page = client.get(f"/admin/jobs/jobrecord/{typed.pk}/change/").content.decode()
    assert "timeout 120 s (the type&#x27;s)" in page and "backoff fixed: 7 s (this job&#x27;s)" in page
