"""``GET /api/jobs/<id>`` tells staff which worker ran each attempt (a host and a process to look at); a
guild's members and tokens read the same attempts without it: where jobdesk runs is not theirs to know."""

import pytest
from django.utils import timezone

from jobs.enqueue import enqueue
from jobs.models import JobAttempt
from project.tenancy import api_token_create
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


def test_the_attempt_log_names_the_worker_to_staff_only(client, world):
    record = enqueue("test.sleep", {"marker": "whose-worker", "seconds": 0}, guild=world["mine"])
    JobAttempt.objects.create(record=record, number=1, worker="worker-7f3a on build-host-3", correlation_id="c",
                              started_at=timezone.now(), ended_at=timezone.now(), outcome="failed",
                              error_type="ValueError", error_message="boom")
    url = f"/api/jobs/{record.pk}"

    client.force_login(world["member"])
    [attempt] = client.get(url).json()["attempt_log"]
    assert attempt["outcome"] == "failed" and attempt["error_message"] == "boom"
    assert "worker" not in attempt

    _, token = api_token_create(guild=world["mine"], name="ci", created_by=world["admin"])
    client.logout()
    [attempt] = client.get(url, headers={"Authorization": f"Bearer {token}"}).json()["attempt_log"]
    assert "worker" not in attempt

    client.force_login(make_staff("watcher", "Job viewers"))
    [attempt] = client.get(url).json()["attempt_log"]
    assert attempt["worker"] == "worker-7f3a on build-host-3"


def test_a_job_that_succeeded_in_the_end_reports_no_error(client, world):
    """An e-mail that succeeded at its third attempt, or a fan-out whose failed shard was retried, is not
    reported with the error of an attempt before; that error stays in its attempt's line."""
    from jobs.models import JobRecord, Status

    record = enqueue("test.sleep", {"marker": "succeeded-late", "seconds": 0}, guild=world["mine"])
    JobAttempt.objects.create(record=record, number=1, worker="w", correlation_id="c", started_at=timezone.now(),
                              ended_at=timezone.now(), outcome="failed", error_type="smtplib.SMTPDataError",
                              error_message="451 try again later")
    JobRecord.objects.filter(pk=record.pk).update(status=Status.SUCCEEDED, last_error_type="smtplib.SMTPDataError",
                                                  last_error="451 try again later")
    client.force_login(world["member"])
    status = client.get(f"/api/jobs/{record.pk}").json()
    assert status["status"] == "succeeded" and status["error"] is None
    assert status["attempt_log"][0]["error_message"] == "451 try again later"

    JobRecord.objects.filter(pk=record.pk).update(status=Status.RETRYING)
    assert client.get(f"/api/jobs/{record.pk}").json()["error"]["message"] == "451 try again later"
