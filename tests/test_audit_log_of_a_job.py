"""The audit log tells a job's whole story: every enqueue and every state change, with who, why and which
attempt, under the job's correlation ID; progress reports are not state changes and add nothing."""

import pytest

from audit.models import AuditEvent
from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _timeline(record):
    return list(AuditEvent.objects.filter(resource_type="job", resource_id=str(record.pk)).order_by("created_at", "id"))


def test_a_retried_job_has_one_event_per_change_in_order(start_worker, world):
    record = enqueue("test.flaky", {"marker": "audited", "fail_times": 1}, actor=world["admin"], guild=world["mine"],
                     correlation_id="audit-story-0001")
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=30,
             message="the flaky job to succeed")

    events = _timeline(record)
    assert [(e.action, e.data["from"], e.data["to"]) for e in events] == [
        ("job.enqueued", None, "queued"),
        ("job.running", "queued", "running"),
        ("job.retrying", "running", "retrying"),
        ("job.running", "retrying", "running"),
        ("job.succeeded", "running", "succeeded"),
    ]
    assert {e.correlation_id for e in events} == {"audit-story-0001"}
    assert {e.guild_id for e in events} == {world["mine"].pk}
    assert events[0].actor == world["admin"], "the enqueue is the enqueuer's"
    assert all(e.actor is None for e in events[1:]), "the worker's changes are nobody's"
    assert [e.data.get("attempt") for e in events[1:]] == [1, 1, 2, 2]
    assert events[1].data["worker"] and events[1].data["worker"] == events[3].data["worker"]
    assert events[2].data["outcome"] == "failed" and events[2].data["reason"], "a retry says why"
    assert events[4].data["outcome"] == "succeeded"
    assert all(e.data["job_type"] == "test.flaky" for e in events)


def test_a_batch_gets_one_enqueue_event_per_job_and_progress_adds_none(world):
    records = enqueue_many("test.flaky", [{"marker": f"b{i}", "fail_times": 0} for i in range(40)],
                           guild=world["mine"])
    assert AuditEvent.objects.filter(action="job.enqueued").count() == 40
    assert set(AuditEvent.objects.values_list("resource_id", flat=True)) == {str(r.pk) for r in records}

    JobRecord.objects.filter(pk=records[0].pk).update(progress=50, progress_message="half way")
    assert AuditEvent.objects.count() == 40
