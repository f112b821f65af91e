"""Staff retry and cancel jobs from the admin's changelist; the actions are permission-checked."""

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "/admin/jobs/jobrecord/"


def make_staff(django_user_model, name, *perms):
    user = django_user_model.objects.create_user(name, password="pw-" + name + "-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="jobs", codename__in=perms))
    return user


def test_an_operator_retries_dead_jobs_and_is_told_the_counts(client, django_user_model):
    dead = enqueue("test.sleep", {"marker": "d", "seconds": 0})
    waiting = enqueue("test.sleep", {"marker": "w", "seconds": 0})
    JobRecord.objects.filter(pk=dead.pk).update(status=Status.DEAD, attempts=1)
    client.force_login(make_staff(django_user_model, "operator", "view_jobrecord", "retry_jobrecord"))

    response = client.post(CHANGELIST, {"action": "retry_selected", "_selected_action": [dead.pk, waiting.pk]},
                           headers={"X-Correlation-ID": "staff-request-0001"}, follow=True)

    assert response.status_code == 200
    assert "1 retried, 1 skipped: still queued." in response.content.decode()
    assert JobRecord.objects.get(pk=dead.pk).status == Status.QUEUED
    event = AuditEvent.objects.get(resource_id=str(dead.pk), action="job.queued")
    assert event.actor.username == "operator" and event.correlation_id == dead.correlation_id
    assert event.data["request_correlation_id"] == "staff-request-0001"


def test_a_viewer_sees_no_retry_action_and_a_forged_post_is_refused(client, django_user_model):
    dead = enqueue("test.sleep", {"marker": "d", "seconds": 0})
    JobRecord.objects.filter(pk=dead.pk).update(status=Status.DEAD, attempts=1)
    client.force_login(make_staff(django_user_model, "viewer", "view_jobrecord"))

    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert "retry_selected" not in page.content.decode() and "cancel_selected" not in page.content.decode()

    forged = client.post(CHANGELIST, {"action": "retry_selected", "_selected_action": [dead.pk]}, follow=True)
    assert forged.status_code == 200
    assert JobRecord.objects.get(pk=dead.pk).status == Status.DEAD
