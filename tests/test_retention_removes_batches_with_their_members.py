"""A batch goes with its members: retention removes a completed batch in the pass that prunes the last
of its members and its callback (and reports it), keeps every member of a batch that has not completed
(its callback reads them), and until the batch goes the admin shows how its members ended, as the batch
kept it when it completed, never a count of the members retention has left ("0/1 members ended")."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from jobs import batches, retention
from jobs.enqueue import enqueue_batch
from jobs.models import JobBatch, JobRecord, Status
from tests.conftest import OPERATORS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/admin/jobs/jobbatch/"


@pytest.fixture(autouse=True)
def rules(settings):
    settings.JOBS_KEEP_SUCCEEDED_DAYS = 7
    settings.JOBS_KEEP_DEAD_DAYS = 30
    settings.JOBS_KEEP_FAILED = 0


@pytest.fixture
def staff(client):
    client.force_login(make_staff("batch-operator", OPERATORS))
    return client


def completed(batch_id):
    def done():
        batch = JobBatch.objects.get(pk=batch_id)
        return batch.callback_id and JobRecord.objects.filter(pk=batch.callback_id, status=Status.SUCCEEDED).exists()

    wait_for(done, timeout=30, interval=0.1, message="the batch's callback to succeed")
    return JobBatch.objects.get(pk=batch_id)


def text(response):
    """The page's text without its tags, spaces folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", response.content.decode()))


def progress_on_list(client, batch):
    page = client.get(LIST)
    assert page.status_code == 200
    row = next(row for row in page.content.decode().split("<tr") if f"/jobbatch/{batch.pk}/change/" in row)
    return re.search(r'class="field-progress">([^<]*)<', row).group(1)


def test_a_completed_batch_goes_in_the_pass_that_prunes_its_member_and_callback(start_worker, staff):
    batch = enqueue_batch([("test.sleep", {"marker": "one", "seconds": 0})],
                          on_complete=("test.batch_done", {"marker": "one"}))
    (member,) = batch.members.all()
    start_worker()
    batch = completed(batch.pk)
    assert (batch.succeeded_count, batch.dead_count, batch.canceled_count) == (1, 0, 0)
    assert progress_on_list(staff, batch) == "1/1"

    report = retention.prune(now=timezone.now() + timedelta(days=8))

    assert not JobRecord.objects.filter(pk__in=[member.pk, batch.callback_id]).exists()
    assert not JobBatch.objects.filter(pk=batch.pk).exists()
    assert report["removed"] == 2 and report["job_batches"] == 1
    assert AuditEvent.objects.get(action="jobs.pruned").data["job_batches"] == 1


def test_a_batch_whose_dead_member_is_kept_reads_as_it_ended_until_the_member_goes(start_worker, staff):
    batch = enqueue_batch([("test.sleep", {"marker": "ok", "seconds": 0}), ("test.permanent", {"marker": "bad"})],
                          on_complete=("test.batch_done", {"marker": "two"}))
    dead = batch.members.get(job_type="test.permanent")
    start_worker()
    batch = completed(batch.pk)
    callback_id = batch.callback_id

    report = retention.prune(now=timezone.now() + timedelta(days=8))  # succeeded ones go, dead ones stay

    assert set(JobRecord.objects.values_list("pk", flat=True)) == {dead.pk}
    assert report["removed"] == 2 and report["job_batches"] == 0
    batch = JobBatch.objects.get(pk=batch.pk)
    assert batch.callback_id is None
    assert progress_on_list(staff, batch) == "2/2", "every member ended, whatever retention removed since"
    page = text(staff.get(f"{LIST}{batch.pk}/change/"))
    assert "1 succeeded, 1 dead (when the batch completed)" in page
    assert "Callback job: removed" in page
    assert str(callback_id) not in page

    report = retention.prune(now=timezone.now() + timedelta(days=31))

    assert not JobRecord.objects.exists() and not JobBatch.objects.exists()
    assert report["by_status"] == {"dead": 1} and report["job_batches"] == 1


def test_members_of_a_batch_that_has_not_completed_are_kept(staff):
    batch = enqueue_batch([("test.sleep", {"marker": "a", "seconds": 0}), ("test.sleep", {"marker": "b", "seconds": 0}),
                           ("test.sleep", {"marker": "c", "seconds": 0})],
                          on_complete=("test.batch_done", {"marker": "open"}))
    first, second, third = batch.members.order_by("created_at", "id")
    long_ago = timezone.now() - timedelta(days=40)
    JobRecord.objects.filter(pk=first.pk).update(status=Status.SUCCEEDED, succeeded_at=long_ago)
    JobRecord.objects.filter(pk=second.pk).update(status=Status.CANCELED, canceled_at=long_ago)
    JobRecord.objects.filter(pk=third.pk).update(status=Status.RUNNING)  # still running, forty days on

    report = retention.prune(now=timezone.now() + timedelta(days=30))

    assert report["removed"] == 0 and JobRecord.objects.filter(batch=batch).count() == 3
    assert progress_on_list(staff, batch) == "2/3"

    JobRecord.objects.filter(pk=third.pk).update(status=Status.DEAD, dead_at=timezone.now())
    callback = batches.complete(batch.pk)
    batch.refresh_from_db()
    assert (batch.succeeded_count, batch.dead_count, batch.canceled_count) == (1, 1, 1)

    report = retention.prune()  # the batch has completed: its old members go, its young one and callback stay

    assert set(JobRecord.objects.values_list("pk", flat=True)) == {third.pk, callback.pk}
    assert report["removed"] == 2 and report["job_batches"] == 0
    assert progress_on_list(staff, batch) == "3/3"
    assert "1 succeeded, 1 dead, 1 canceled (when the batch completed)" in text(staff.get(f"{LIST}{batch.pk}/change/"))
