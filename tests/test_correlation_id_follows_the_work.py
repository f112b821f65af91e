"""The correlation ID of a request reaches its job, every attempt, every audit event and child jobs."""

import logging

import pytest

from audit.models import AuditEvent
from jobs.models import JobAttempt, JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CID = "req-2f1c9a7e-4b1d-4c11-9f5e-1a2b3c4d5e6f"


def test_request_header_reaches_record_attempts_audit_events_and_child_jobs(client, staff_user, start_worker):
    client.force_login(staff_user)
    response = client.post("/api/jobs", {"job_type": "test.spawn_child", "payload": {"marker": "cid"}},
                           content_type="application/json", headers={"X-Correlation-ID": CID})
    assert response.status_code == 202, response.content
    assert response["X-Correlation-ID"] == CID
    body = response.json()
    assert body["correlation_id"] == CID
    assert body["status_url"].endswith(f"/api/jobs/{body['id']}")

    start_worker()
    parent = wait_for(lambda: JobRecord.objects.filter(pk=body["id"], status=Status.SUCCEEDED).first(), timeout=20)
    child = wait_for(lambda: JobRecord.objects.filter(parent=parent, status=Status.SUCCEEDED).first(), timeout=20)

    assert parent.correlation_id == CID and parent.actor == staff_user
    assert child.correlation_id == CID and parent.result == {"child": str(child.pk)}
    assert child.actor_id == staff_user.pk, "a child job acts for the same person"
    assert set(JobAttempt.objects.values_list("correlation_id", flat=True)) == {CID}

    events = AuditEvent.objects.filter(correlation_id=CID)
    for record in (parent, child):
        actions = set(events.filter(resource_id=str(record.pk)).values_list("action", flat=True))
        assert {"job.enqueued", "job.running", "job.succeeded"} <= actions
    # The child job itself wrote an audit event: it carries the request's ID too.
    assert events.filter(action="test.child").exists()
    assert not AuditEvent.objects.exclude(correlation_id=CID).exists()

    status = client.get(body["status_url"])
    assert status.status_code == 200 and status.json()["status"] == "succeeded"
    assert status.json()["attempt_log"][0]["outcome"] == "succeeded"


@pytest.mark.parametrize("header", ["", "short", "has spaces in it!", "x" * 65, "line\nbreak-injection"])
def test_an_invalid_header_is_replaced_by_a_new_id(client, header):
    response = client.get("/healthz", headers={"X-Correlation-ID": header} if header else {})
    cid = response["X-Correlation-ID"]
    assert cid != header and len(cid) == 32


def test_log_lines_carry_the_correlation_id(caplog):
    from project import correlation
    from project.correlation import CorrelationIdFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with correlation.bind("cid-for-logging-1"):
        CorrelationIdFilter().filter(record)
    assert record.correlation_id == "cid-for-logging-1"
