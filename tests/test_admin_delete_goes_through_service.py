"""A superuser deleting one job from its admin page gets the same rules as the "delete selected" action:
only a finished job is deleted, it leaves Redis too, and the audit log names who deleted it. A job
still waiting or running is refused with a message (cancel it first) and stays in the ledger and in
Redis. Staff without the delete permission (operators) are refused outright."""

import pytest

from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Status
from tests.conftest import OPERATORS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def delete_url(record):
    return f"/admin/jobs/jobrecord/{record.pk}/delete/"


def queued_job(marker):
    record = enqueue("test.sleep", {"marker": marker, "seconds": 0})  # committed: in Redis, on its queue
    return JobRecord.objects.get(pk=record.pk)


def deleted_events(record):
    return AuditEvent.objects.filter(action="job.deleted", resource_id=str(record.pk))


@pytest.mark.parametrize("status", [Status.QUEUED, Status.RUNNING, Status.RETRYING])
def test_a_job_that_has_not_finished_is_not_deleted_from_its_page(client, staff_user, clean_redis, status):
    record = queued_job(f"keep-{status}")
    JobRecord.objects.filter(pk=record.pk).update(status=status)
    assert clean_redis.exists(f"rq:job:{record.rq_id}")
    client.force_login(staff_user)

    page = client.get(delete_url(record), follow=True)
    assert f"Job {record.pk} was not deleted: it is {status}" in page.content.decode(), "refused before confirming"
    response = client.post(delete_url(record), {"post": "yes"}, follow=True)

    assert response.redirect_chain[-1][0] == f"/admin/jobs/jobrecord/{record.pk}/change/"
    assert f"Job {record.pk} was not deleted: it is {status}" in response.content.decode()
    assert JobRecord.objects.filter(pk=record.pk, status=status).exists()
    assert clean_redis.exists(f"rq:job:{record.rq_id}"), "Redis is left as it was"
    assert not deleted_events(record).exists()


def test_a_finished_job_is_deleted_by_a_superuser_through_the_service_cleaned_from_redis_and_audited(
        client, staff_user, clean_redis):
    record = queued_job("gone")
    JobRecord.objects.filter(pk=record.pk).update(status=Status.DEAD, attempts=1)
    JobAttempt.objects.create(record_id=record.pk, number=1, outcome="failed", error_type="ValueError",
                              correlation_id=record.correlation_id, started_at=record.created_at)
    clean_redis.zadd(f"rq:failed:{record.queue}", {record.rq_id: 1})

    client.force_login(make_staff("operator1", OPERATORS))
    assert client.get(delete_url(record)).status_code == 403, "operators do not delete"
    assert client.post(delete_url(record), {"post": "yes"}).status_code == 403
    assert JobRecord.objects.filter(pk=record.pk).exists() and not deleted_events(record).exists()

    client.force_login(staff_user)
    confirm = client.get(delete_url(record))
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    response = client.post(delete_url(record), {"post": "yes"})

    assert response.status_code == 302 and response["Location"] == "/admin/jobs/jobrecord/"
    assert not JobRecord.objects.filter(pk=record.pk).exists()
    assert not JobAttempt.objects.filter(record_id=record.pk).exists()
    assert not clean_redis.exists(f"rq:job:{record.rq_id}"), "the RQ job is gone too"
    assert clean_redis.zscore(f"rq:failed:{record.queue}", record.rq_id) is None
    event = deleted_events(record).get()
    assert event.actor_id == staff_user.pk and event.data["job_type"] == "test.sleep"
