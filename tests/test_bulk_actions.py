""""Act on every matching job": the request only enqueues a job; that job applies the action to every
job the filter matches, with progress, for the staff member who asked."""

import pytest

from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord, Status
from tests.conftest import OPERATORS, VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BULK = "/admin/jobs/jobrecord/bulk/"


def test_retrying_every_matching_dead_job_runs_as_a_job(client, django_user_model, start_worker, clean_redis):
    operator = make_staff("op", OPERATORS)
    dead = enqueue_many("test.sleep", [{"marker": f"d{i}", "seconds": 0} for i in range(25)])
    JobRecord.objects.filter(pk__in=[r.pk for r in dead]).update(status=Status.DEAD, attempts=1,
                                                                  last_error_type="ValueError")
    unrelated = enqueue("test.always_fails", {"marker": "x"})
    JobRecord.objects.filter(pk=unrelated.pk).update(status=Status.DEAD, attempts=3, last_error_type="ValueError")
    clean_redis.flushdb()  # dead jobs are not in any RQ queue (a dead job requeued in RQ would be a retry)
    client.force_login(operator)

    page = client.get(BULK + "?status__exact=dead&job_type=test.sleep")
    assert page.status_code == 200 and "25 jobs match" in page.content.decode()
    response = client.post(BULK, {"status__exact": "dead", "job_type": "test.sleep", "action": "retry",
                                  "confirmed": "yes"})
    assert response.status_code == 302
    bulk = JobRecord.objects.get(job_type="jobs.bulk_action")
    assert response["Location"].endswith(f"/admin/jobs/jobrecord/{bulk.pk}/change/")
    assert bulk.actor == operator and bulk.payload["filters"] == {"status__exact": "dead", "job_type": "test.sleep"}

    start_worker()
    done = wait_for(lambda: JobRecord.objects.filter(pk=bulk.pk, status=Status.SUCCEEDED).first(), timeout=30)
    assert done.progress == 100 and done.result["acted"] == 25 and done.result["matched"] == 25, done.result
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in dead], status=Status.SUCCEEDED).count() == 25,
             timeout=30)
    assert JobRecord.objects.get(pk=unrelated.pk).status == Status.DEAD, "outside the filter: untouched"


def test_a_viewer_cannot_start_a_bulk_action(client, django_user_model):
    viewer = make_staff("vw", VIEWERS)
    client.force_login(viewer)
    response = client.post(BULK, {"status__exact": "dead", "action": "retry", "confirmed": "yes"})
    assert response.status_code == 403
    assert not JobRecord.objects.filter(job_type="jobs.bulk_action").exists()


def test_a_bulk_delete_runs_only_for_a_staff_member_who_may_delete(django_user_model, start_worker):
    """The permission is checked when the job runs, not only when the form is posted: a bulk delete
    enqueued for an operator (who may not delete) dies at once and deletes nothing."""
    operator = make_staff("op", OPERATORS)
    finished = enqueue_many("test.sleep", [{"marker": f"f{i}", "seconds": 0} for i in range(5)])
    JobRecord.objects.filter(pk__in=[r.pk for r in finished]).update(status=Status.SUCCEEDED)
    bulk = enqueue("jobs.bulk_action", {"action": "delete", "filters": {}}, actor=operator)

    start_worker()
    dead = wait_for(lambda: JobRecord.objects.filter(pk=bulk.pk, status=Status.DEAD).first(), timeout=30)
    assert "jobs.delete_jobrecord" in dead.last_error and dead.attempts == 1
    assert JobRecord.objects.filter(pk__in=[r.pk for r in finished]).count() == 5


def test_a_bulk_action_without_a_staff_member_touches_nothing(start_worker):
    canceled = enqueue("test.sleep", {"marker": "c", "seconds": 0}, delay=3600)
    bulk = enqueue("jobs.bulk_action", {"action": "cancel", "filters": {}})

    start_worker()
    dead = wait_for(lambda: JobRecord.objects.filter(pk=bulk.pk, status=Status.DEAD).first(), timeout=30)
    assert "no staff member" in dead.last_error
    assert JobRecord.objects.get(pk=canceled.pk).status == Status.QUEUED


def test_retrying_someone_elses_bulk_delete_acts_for_the_one_who_retried(client, django_user_model, start_worker):
    """A superuser's bulk delete has run; an operator (who may retry but not delete) retries it from the
    job list. The retry runs with the operator's rights, not the superuser's: it dies and deletes nothing."""
    superuser = django_user_model.objects.create_superuser("su", "su@example.com", "pw-su-1")
    operator = make_staff("op", OPERATORS)
    bulk = enqueue("jobs.bulk_action", {"action": "delete", "filters": {"status__exact": "succeeded"}},
                   actor=superuser)
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=bulk.pk, status=Status.SUCCEEDED).exists(), timeout=30,
             message="the superuser's bulk delete to run")
    since = enqueue_many("test.sleep", [{"marker": f"s{i}", "seconds": 0} for i in range(3)])
    JobRecord.objects.filter(pk__in=[r.pk for r in since]).update(status=Status.SUCCEEDED)

    client.force_login(operator)
    response = client.post("/admin/jobs/jobrecord/", {"action": "retry_selected", "_selected_action": [str(bulk.pk)]})
    assert response.status_code == 302
    assert JobRecord.objects.get(pk=bulk.pk).actor == operator, "the retry acts for the operator"
    dead = wait_for(lambda: JobRecord.objects.filter(pk=bulk.pk, status=Status.DEAD).first(), timeout=30)
    assert "jobs.delete_jobrecord" in dead.last_error
    assert JobRecord.objects.filter(pk__in=[r.pk for r in since]).count() == 3, "nothing deleted"
