"""The job page acts: retry, requeue now and cancel buttons on the page itself, each confirmed first,
permission-checked like the list's actions (a viewer sees none, and a viewer's POST is a 403) and
audited with the staff member's name; RQ's state in words, "scheduled for …", durations, and the
audit timeline of this job by default with its whole correlation ID one click away."""

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Outcome, Status
from tests.conftest import OPERATORS, VIEWERS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

JOBS = "/admin/jobs/jobrecord/"


def dead_job(marker="dead"):
    record = enqueue("test.always_fails", {"marker": marker})
    JobRecord.objects.filter(pk=record.pk).update(status=Status.DEAD, attempts=3, dead_at=timezone.now(),
                                                  last_error_type="ValueError", last_error="boom")
    return JobRecord.objects.get(pk=record.pk)


def test_an_operator_retries_a_dead_job_from_its_page_after_confirming(client):
    operator = make_staff("opal", OPERATORS)
    record = dead_job()
    client.force_login(operator)
    html = client.get(f"{JOBS}{record.pk}/change/").content.decode()
    assert 'value="retry"' in html and 'value="cancel"' not in html, "a dead job can be retried, not canceled"
    assert f'action="{JOBS}{record.pk}/act/"' in html

    asked = client.post(f"{JOBS}{record.pk}/act/", {"action": "retry"})
    assert asked.status_code == 200 and "Retry this job?" in asked.content.decode()
    assert JobRecord.objects.get(pk=record.pk).status == Status.DEAD, "nothing happens before confirming"

    done = client.post(f"{JOBS}{record.pk}/act/", {"action": "retry", "confirmed": "yes"}, follow=True)
    assert done.redirect_chain[-1][0] == f"{JOBS}{record.pk}/change/"
    assert f"Job {record.pk} retried." in done.content.decode()
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
    event = AuditEvent.objects.get(resource_id=str(record.pk), action="job.queued")
    assert event.actor_id == operator.pk and event.data["reason"] == "retried by staff"


def test_an_operator_cancels_a_waiting_job_and_requeues_a_delayed_one_from_their_pages(client):
    operator = make_staff("otto", OPERATORS)
    waiting = enqueue("test.sleep", {"marker": "w", "seconds": 0})
    delayed = enqueue("test.sleep", {"marker": "later", "seconds": 0}, delay=3600)
    client.force_login(operator)

    html = client.get(f"{JOBS}{delayed.pk}/change/").content.decode()
    assert "scheduled for " in html, "a delayed job says when it runs"
    assert 'value="requeue"' in html and 'value="cancel"' in html and 'value="retry"' not in html
    client.post(f"{JOBS}{delayed.pk}/act/", {"action": "requeue", "confirmed": "yes"})
    assert JobRecord.objects.get(pk=delayed.pk).run_at is None
    assert AuditEvent.objects.filter(resource_id=str(delayed.pk), action="job.requeued_now",
                                     actor=operator).exists()

    assert 'value="requeue"' not in client.get(f"{JOBS}{waiting.pk}/change/").content.decode()
    asked = client.post(f"{JOBS}{waiting.pk}/act/", {"action": "cancel"})
    assert "Cancel this job?" in asked.content.decode()
    client.post(f"{JOBS}{waiting.pk}/act/", {"action": "cancel", "confirmed": "yes"})
    assert JobRecord.objects.get(pk=waiting.pk).status == Status.CANCELED
    again = client.post(f"{JOBS}{waiting.pk}/act/", {"action": "cancel", "confirmed": "yes"}, follow=True)
    assert "was not canceled: it is canceled" in again.content.decode()


def test_a_viewer_sees_no_buttons_and_a_viewers_post_is_refused(client):
    viewer = make_staff("vic", VIEWERS)
    record = dead_job()
    waiting = enqueue("test.sleep", {"marker": "w", "seconds": 0})
    client.force_login(viewer)
    for job in (record, waiting):
        html = client.get(f"{JOBS}{job.pk}/change/").content.decode()
        assert 'id="job-actions"' not in html and "/act/" not in html
    for action, job in (("retry", record), ("cancel", waiting), ("requeue", waiting)):
        response = client.post(f"{JOBS}{job.pk}/act/", {"action": action, "confirmed": "yes"})
        assert response.status_code == 403
    assert JobRecord.objects.get(pk=record.pk).status == Status.DEAD
    assert JobRecord.objects.get(pk=waiting.pk).status == Status.QUEUED
    assert client.post(f"{JOBS}{record.pk}/act/", {"action": "explode"}).status_code == 403


def test_the_job_page_reads_in_words_and_times_a_retried_job_by_its_last_attempt(client):
    operator = make_staff("olga", OPERATORS)
    record = dead_job("timed")
    start = timezone.now() - timezone.timedelta(seconds=30)
    for number, (began, lasted) in enumerate([(0, 2.0), (10, 3.0), (25, 1.5)], start=1):
        at = start + timezone.timedelta(seconds=began)
        JobAttempt.objects.create(record=record, number=number, queue=record.queue, worker="w",
                                  correlation_id=record.correlation_id, started_at=at,
                                  ended_at=at + timezone.timedelta(seconds=lasted), outcome=Outcome.FAILED)
    JobRecord.objects.filter(pk=record.pk).update(started_at=start, dead_at=start + timezone.timedelta(seconds=26.5))
    waiting = enqueue("test.sleep", {"marker": "w", "seconds": 0})
    client.force_login(operator)

    html = client.get(f"{JOBS}{record.pk}/change/").content.decode()
    # The total is the attempts' run times added up (2 + 3 + 1.5 s), not the 26.5 s from first start to end.
    assert "1.500 s (last attempt; 6.500 s run time over 3 attempts)" in html
    assert "JobStatus" not in html
    html = client.get(f"{JOBS}{waiting.pk}/change/").content.decode()
    assert "waiting in its queue" in html and "JobStatus" not in html

    listed = client.get(f"{JOBS}?status__exact=dead").content.decode()
    assert "1.500 s" in listed and "6.500 s total" in listed


def test_the_timeline_shows_this_jobs_events_to_the_millisecond(client):
    operator = make_staff("omar", OPERATORS)
    record = dead_job("timeline")
    client.force_login(operator)
    page = client.get(f"{JOBS}{record.pk}/change/")
    events = page.context["timeline"]
    assert events and all(str(event.resource_id) == str(record.pk) for event in events)
    first = events[0].created_at.astimezone(timezone.get_current_timezone())
    assert first.strftime("%Y-%m-%d %H:%M:%S.") + f"{first.microsecond // 1000:03d}" in page.content.decode()
    assert "?timeline=all" in page.content.decode()


def test_the_live_fragment_asks_for_a_reload_once_the_job_moved(client):
    viewer = make_staff("vito", VIEWERS)
    waiting = enqueue("test.sleep", {"marker": "w", "seconds": 0})
    client.force_login(viewer)
    live = client.get(f"{JOBS}{waiting.pk}/live/?shown=queued")
    assert live.status_code == 200 and 'id="job-live"' in live.content.decode()
    assert "hx-trigger" in live.content.decode(), "an open job keeps polling"
    JobRecord.objects.filter(pk=waiting.pk).update(status=Status.CANCELED, canceled_at=timezone.now())
    moved = client.get(f"{JOBS}{waiting.pk}/live/?shown=queued")
    assert moved.headers.get("HX-Refresh") == "true"
    finished = client.get(f"{JOBS}{waiting.pk}/live/?shown=canceled").content.decode()
    assert "hx-trigger" not in finished, "a finished job stops polling"
    assert client.get(f"{JOBS}00000000-0000-0000-0000-000000000000/live/").status_code == 404
