"""What staff see in the admin: the job list with its filters and exact search, the job page with its
attempts, RQ's view and the audit timeline, the queues and dead-letter pages, and the roles."""

import re

import pytest

from audit.models import AuditEvent

from jobs import services
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project import correlation
from tests.conftest import OPERATORS, VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/jobs/jobrecord/"


@pytest.fixture
def operator():
    return make_staff("operator1", OPERATORS)


@pytest.fixture
def viewer():
    return make_staff("viewer1", VIEWERS)


def make_dead(job_type="test.always_fails", marker="dead", error="ValueError"):
    record = enqueue(job_type, {"marker": marker})
    JobRecord.objects.filter(pk=record.pk).update(status=Status.DEAD, attempts=3, last_error_type=error,
                                                  last_error="boom")
    return JobRecord.objects.get(pk=record.pk)


def test_the_job_list_filters_and_searches_exactly(client, operator):
    dead = make_dead()
    with correlation.bind("cid-needle-000001"):
        needle = enqueue("test.sleep", {"marker": "n", "seconds": 0})
    other = enqueue("test.sleep", {"marker": "other", "seconds": 0}, priority="high")
    client.force_login(operator)

    def ids(query):
        response = client.get(CHANGELIST + query)
        assert response.status_code == 200
        return {str(r.pk) for r in response.context["cl"].result_list}

    assert ids("?status__exact=dead") == {str(dead.pk)}
    assert ids("?q=cid-needle-000001") == {str(needle.pk)}
    assert ids(f"?q={needle.pk}") == {str(needle.pk)}
    assert ids("?job_type=test.always_fails") == {str(dead.pk)}
    assert ids(f"?queue={other.queue}") == {str(other.pk)}
    assert ids(f"?queue={needle.queue}&status__exact=queued") == {str(needle.pk)}
    assert ids("?q=cid-needle") == set(), "search is exact: no partial matches"
    page = client.get(CHANGELIST).content.decode()
    assert "test.always_fails" in page and "Act on every matching job" in page


def test_the_job_page_shows_attempts_rq_state_and_the_audit_timeline(client, operator, start_worker):
    with correlation.bind("cid-page-0000001"):
        record = enqueue("test.spawn_child", {"marker": "page"})
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(correlation_id="cid-page-0000001", status=Status.SUCCEEDED).count() == 2,
             timeout=20)
    client.force_login(operator)
    response = client.get(f"{CHANGELIST}{record.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Ledger and RQ, side by side" in html and "not in Redis" in html
    assert "Audit timeline of this job" in html
    timeline = [event.action for event in response.context["timeline"]]
    assert timeline[:1] == ["job.enqueued"] and "job.succeeded" in timeline and "test.child" not in timeline
    assert {str(event.resource_id) for event in response.context["timeline"]} == {str(record.pk)}
    whole = client.get(f"{CHANGELIST}{record.pk}/change/?timeline=all")
    assert "Audit timeline of correlation ID cid-page-0000001" in whole.content.decode()
    timeline = [event.action for event in whole.context["timeline"]]
    assert timeline[:1] == ["job.enqueued"] and "job.succeeded" in timeline and "test.child" in timeline
    child = JobRecord.objects.get(parent=record)
    assert f"/admin/jobs/jobrecord/{child.pk}/change/" in html, "child jobs are linked"
    assert "&quot;marker&quot;: &quot;page&quot;" in html, "the payload as readable JSON"


def test_the_job_page_says_why_a_job_is_in_its_status_and_who_moved_it(client, operator):
    dead = make_dead(marker="why", error="ValueError")
    client.force_login(operator)
    assert services.retry_job(dead, actor=operator)
    html = client.get(f"{CHANGELIST}{dead.pk}/change/").content.decode()
    assert f"retried by staff (by {operator.username})" in html


def test_dead_letters_are_grouped_by_type_and_error(client, operator):
    for i in range(3):
        make_dead(marker=f"a{i}", error="ValueError")
    make_dead(job_type="test.permanent", marker="b", error="jobs.errors.PermanentError")
    client.force_login(operator)
    response = client.get(CHANGELIST + "dead-letters/")
    assert response.status_code == 200
    groups = {(g["job_type"], g["last_error_type"]): g["count"] for g in response.context["groups"]}
    assert groups == {("test.always_fails", "ValueError"): 3, ("test.permanent", "jobs.errors.PermanentError"): 1}
    assert "Retry this group" in response.content.decode()


def test_every_dead_job_of_a_type_is_one_click_from_its_dead_letter_groups(client, operator, viewer):
    for i in range(2):
        make_dead(marker=f"v{i}", error="ValueError")
    make_dead(marker="k", error="KeyError")
    client.force_login(operator)
    html = client.get(CHANGELIST + "dead-letters/").content.decode()
    links = re.findall(r'class="button retry-type" href="([^"]+)"', html)
    assert len(links) == 2 and len(set(links)) == 1, "one link per group, the same type-wide retry"
    confirm = client.get(links[0].replace("&amp;", "&"))
    assert confirm.status_code == 200
    assert confirm.context["count"] == 3 and confirm.context["actions"] == ["retry"], "both errors, retry only"
    client.force_login(viewer)
    assert "retry-type" not in client.get(CHANGELIST + "dead-letters/").content.decode()


def test_the_queues_page_counts_and_pauses(client, operator, viewer):
    make_dead()
    enqueue("test.sleep", {"marker": "w", "seconds": 0})
    client.force_login(viewer)
    response = client.get(CHANGELIST + "queues/")
    assert response.status_code == 200
    row = next(r for r in response.context["rows"] if r["name"].endswith(".default"))
    assert row["waiting"] == 2 and row["dead"] == 1 and not row["paused"]
    assert "Pause" not in response.content.decode(), "a viewer sees no pause button"
    assert client.post(CHANGELIST + "queues/", {"queue": row["name"], "action": "pause"}).status_code == 403

    client.force_login(operator)
    client.post(CHANGELIST + "queues/", {"queue": row["name"], "action": "pause"})
    response = client.get(CHANGELIST + "queues/")
    assert next(r for r in response.context["rows"] if r["name"] == row["name"])["paused"]


def test_roles_decide_which_actions_staff_see(client, operator, viewer):
    make_dead()
    client.force_login(viewer)
    html = client.get(CHANGELIST).content.decode()
    assert "retry_selected" not in html and "Act on every matching job" not in html
    client.force_login(operator)
    html = client.get(CHANGELIST).content.decode()
    assert "retry_selected" in html and "cancel_selected" in html
    assert "delete_selected" not in html, "operators do not delete; superusers do"


def test_cancel_asks_for_confirmation_first(client, operator):
    record = enqueue("test.sleep", {"marker": "c", "seconds": 0})
    client.force_login(operator)
    response = client.post(CHANGELIST, {"action": "cancel_selected", "_selected_action": [record.pk]})
    assert response.status_code == 200 and "Cancel these jobs?" in response.content.decode()
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
    response = client.post(CHANGELIST, {"action": "cancel_selected", "_selected_action": [record.pk],
                                        "confirmed": "yes"}, follow=True)
    assert "1 canceled." in response.content.decode()
    assert JobRecord.objects.get(pk=record.pk).status == Status.CANCELED


def test_requeue_now_skips_a_pending_delay(client, operator, start_worker):
    record = enqueue("test.sleep", {"marker": "later", "seconds": 0}, delay=3600)
    client.force_login(operator)
    response = client.post(CHANGELIST, {"action": "requeue_selected", "_selected_action": [record.pk]}, follow=True)
    assert "1 requeued now." in response.content.decode()
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=20)


def test_a_dead_job_requeued_from_django_rq_is_a_retry_in_the_ledger(client, staff_user, start_worker):
    record = enqueue("test.flaky", {"marker": "rq-requeue", "fail_times": 1})
    JobRecord.objects.filter(pk=record.pk).update(max_attempts=1)
    worker = start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.DEAD).exists(), timeout=20)

    from django_rq.settings import get_queues_list

    index = [q["name"] for q in get_queues_list()].index(record.queue)
    client.force_login(staff_user)
    response = client.post(f"/admin/django-rq/queues/{index}/{record.pk}/requeue/", {"requeue": "Requeue"})
    assert response.status_code in (200, 302)
    done = wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).first(), timeout=20)
    assert done.attempts == 2
    reopened = AuditEvent.objects.get(resource_id=str(record.pk), action="job.queued")
    assert "requeued in RQ" in reopened.data["reason"]
    worker.stop()


def test_a_deep_page_shows_the_same_jobs_in_the_same_order(client, operator, monkeypatch):
    from jobs.admin_filters import CappedPaginator
    from jobs.enqueue import enqueue_many

    enqueue_many("test.sleep", [{"marker": f"m{i}", "seconds": 0} for i in range(130)])
    client.force_login(operator)
    expected = [str(pk) for pk in JobRecord.objects.order_by("-created_at", "-id").values_list("pk", flat=True)]
    shallow = [str(r.pk) for r in client.get(CHANGELIST + "?p=3").context["cl"].result_list]
    monkeypatch.setattr(CappedPaginator, "DEEP", 50)  # pages 2 and 3 now take the ids-first path
    deep = [str(r.pk) for r in client.get(CHANGELIST + "?p=3").context["cl"].result_list]
    second = [str(r.pk) for r in client.get(CHANGELIST + "?p=2").context["cl"].result_list]
    assert shallow == expected[100:130], "admin pages count from 1"
    assert deep == shallow and second == expected[50:100]
    beyond = client.get(CHANGELIST + "?p=500")
    assert beyond.status_code == 200, "past the last page: the last page, not an error"
    assert [str(r.pk) for r in beyond.context["cl"].result_list] == expected[100:130]
