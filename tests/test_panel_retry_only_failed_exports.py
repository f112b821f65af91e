"""A guild admin may retry an export whose job failed or was canceled, and nothing else: the control
panel offers the button only for those, and the server refuses a retry posted by hand for any other
(a succeeded export already has its file; a running one is under way), enqueueing nothing."""

import pytest
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord, Status

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = {"format": "csv", "start": "2026-03-01", "end": "2026-03-31", "metrics": ["messages"]}


def admin_client(world):
    client = Client()
    client.force_login(world["admin"])
    return client


def export_in(world, clean_redis, status):
    """An export of guild "mine" whose job is in ``status``, with nothing of it left in Redis."""
    assert admin_client(world).post("/panel/mine/", GOOD).status_code == 302
    export = Export.objects.get()
    JobRecord.objects.filter(pk=export.job_id).update(status=status, attempts=1)
    clean_redis.flushdb()
    return export


def retry(world, export):
    return admin_client(world).post(f"/panel/mine/exports/{export.pk}/retry/")


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.RUNNING, Status.QUEUED])
def test_a_retry_posted_for_an_export_that_has_not_failed_is_refused(world, clean_redis, status):
    export = export_in(world, clean_redis, status)
    before = JobRecord.objects.values().get(pk=export.job_id)

    response = retry(world, export)

    assert response.status_code == 409
    assert f"only a failed or canceled export can be retried; this one is {status}" in response.content.decode()
    assert JobRecord.objects.values().get(pk=export.job_id) == before, "the job is untouched"
    assert clean_redis.keys("rq:job:*") == [], "nothing was enqueued"


@pytest.mark.parametrize("status", [Status.DEAD, Status.CANCELED])
def test_a_failed_or_canceled_export_is_made_again(world, clean_redis, status):
    export = export_in(world, clean_redis, status)

    response = retry(world, export)

    assert response.status_code == 302
    assert JobRecord.objects.get(pk=export.job_id).status == Status.QUEUED
    assert clean_redis.exists(f"rq:job:{export.job_id}"), "the new attempt is on its queue"


def test_the_retry_button_shows_only_beside_failed_exports(world, clean_redis):
    export = export_in(world, clean_redis, Status.SUCCEEDED)
    page = admin_client(world).get("/panel/mine/").content.decode()
    assert f"/panel/mine/exports/{export.pk}/retry/" not in page
    JobRecord.objects.filter(pk=export.job_id).update(status=Status.DEAD)
    page = admin_client(world).get("/panel/mine/").content.decode()
    assert f"/panel/mine/exports/{export.pk}/retry/" in page
