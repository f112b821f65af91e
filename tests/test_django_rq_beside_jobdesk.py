"""django-rq's dashboard beside jobdesk: a job's page links to its record in jobdesk's admin, a requeue
there is a staff retry audited with the staff member who clicked, and the scheduler panel shows
jobdesk's schedules (kept in the ledger) instead of rq-scheduler's ``NOHOST:6379/0``."""

import pytest
from django.test import Client
from django_rq.settings import get_queues_list

from audit.models import AuditEvent
from jobs.connection import get_queue
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Schedule, Status
from tests.conftest import OPERATORS, VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def index_of(queue):
    return [config["name"] for config in get_queues_list()].index(queue)


def as_staff(user):
    client = Client()
    client.force_login(user)
    return client


def dead_jobs(start_worker, *markers):
    """Jobs that failed their only attempt: dead in the ledger and in RQ's failed registry."""
    records = []
    for marker in markers:
        record = enqueue("test.flaky", {"marker": marker, "fail_times": 1})
        JobRecord.objects.filter(pk=record.pk).update(max_attempts=1)
        records.append(record)
    worker = start_worker()
    for record in records:
        wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).exists(), timeout=20)
        wait_for(lambda: str(record.pk) in get_queue(record.queue).failed_job_registry.get_job_ids(), timeout=10)
    return records, worker


def reopened_by(record):
    return AuditEvent.objects.filter(resource_id=str(record.pk), action="job.queued").select_related("actor").last()


def test_a_jobs_page_links_to_its_record_in_jobdesk():
    record = enqueue("test.flaky", {"marker": "detail", "fail_times": 0})
    viewer = make_staff("viewer", VIEWERS)
    page = as_staff(viewer).get(f"/admin/django-rq/queues/{index_of(record.queue)}/{record.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="jobdesk-job-link"' in html and f'href="/admin/jobs/jobrecord/{record.pk}/change/"' in html
    assert "test.flaky job" in html

    plain = get_queue(record.queue).enqueue_call("tests.jobtypes.flaky", job_id="not-a-ledger-job", kwargs={})
    page = as_staff(viewer).get(f"/admin/django-rq/queues/{index_of(record.queue)}/{plain.id}/")
    assert page.status_code == 200 and "jobdesk-job-link" not in page.content.decode()


def test_a_requeue_from_django_rq_is_audited_with_the_staff_member(start_worker):
    (record,), _ = dead_jobs(start_worker, "requeue-one")
    operator = make_staff("operator-one", OPERATORS)
    response = as_staff(operator).post(f"/admin/django-rq/queues/{index_of(record.queue)}/{record.pk}/requeue/",
                                       {"requeue": "Requeue"})
    assert response.status_code == 302
    event = reopened_by(record)
    assert event.actor == operator, "the audit names who requeued it"
    assert "django-rq" in event.data["reason"]
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=20)
    assert done.attempts == 2


def test_requeue_selected_and_requeue_all_name_the_staff_member_too(start_worker):
    (first, second, third), worker = dead_jobs(start_worker, "bulk-1", "bulk-2", "bulk-3")
    worker.stop()  # the requeued jobs wait: the ledger's side is what is checked here
    operator = make_staff("operator-bulk", OPERATORS)
    client = as_staff(operator)
    index = index_of(first.queue)
    response = client.post(f"/admin/django-rq/queues/actions/{index}/", {"action": "requeue", "job_ids": [str(first.pk)]})
    assert response.status_code == 302
    assert reopened_by(first).actor == operator and reopened_by(second) is None
    assert client.post(f"/admin/django-rq/queues/{index}/requeue-all/").status_code == 302
    for record in (second, third):
        assert reopened_by(record).actor == operator
        assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED


def test_a_viewer_cannot_requeue_and_nothing_is_reopened(start_worker):
    (record,), worker = dead_jobs(start_worker, "viewer-refused")
    worker.stop()
    viewer = make_staff("viewer-refused", VIEWERS)
    response = as_staff(viewer).post(f"/admin/django-rq/queues/{index_of(record.queue)}/{record.pk}/requeue/",
                                     {"requeue": "Requeue"})
    assert response.status_code == 403
    assert JobRecord.objects.get(pk=record.pk).status == Status.DEAD and reopened_by(record) is None


def test_the_dashboard_shows_jobdesks_schedules_not_nohost(staff_user):
    Schedule.objects.create(name="nightly-report", job_type="test.flaky", payload={"marker": "m", "fail_times": 0},
                            cron="0 2 * * *", timezone="Europe/Paris")
    client = as_staff(staff_user)
    page = client.get("/admin/django-rq/")
    html = page.content.decode()
    assert page.status_code == 200 and "NOHOST" not in html and "RQ Scheduler" not in html
    assert "nightly-report" in html and "cron: 0 2 * * * (Europe/Paris)" in html
    assert 'id="jobdesk-schedules-link" href="/admin/jobs/schedule/"' in html
    scheduler_panel = client.get("/admin/django-rq/schedulers/0/")
    assert scheduler_panel.status_code == 302 and scheduler_panel["Location"] == "/admin/jobs/schedule/"


def test_anonymous_callers_still_get_the_login_page():
    response = Client().get("/admin/django-rq/schedulers/0/")
    assert response.status_code == 302 and "/login/" in response["Location"]
