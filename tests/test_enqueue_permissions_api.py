"""POST /api/jobs enqueues only what the caller may: a staff operator enqueues public job types, a staff
viewer is told which permission is missing, and nobody, not even a superuser, enqueues an internal type
(bulk actions, audit retention, audit writes). A refusal writes nothing to the ledger."""

import json

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from jobs.enqueue import enqueue
from jobs.models import JobRecord
from tests.conftest import OPERATORS, VIEWERS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

FLAKY = {"job_type": "test.flaky", "payload": {"marker": "by-hand", "fail_times": 0}}
INTERNAL = [
    {"job_type": "jobs.bulk_action", "payload": {"action": "delete", "filters": {}}},
    {"job_type": "audit.apply_retention", "payload": {"days": 1}},
    {"job_type": "audit.record_event", "payload": {"action": "forged", "resource_type": "job", "resource_id": "1"}},
]


def operator(username="operator"):
    """A staff member in "Job operators". A transactional test empties the groups, and conftest re-creates
    the role as migration 0003 defined it; migration 0007 adds the enqueue permission, added here too."""
    user = make_staff(username, OPERATORS)
    Group.objects.get(name=OPERATORS).permissions.add(
        Permission.objects.get(content_type__app_label="jobs", codename="enqueue_jobrecord"))
    return user


def post(user, body):
    client = Client()
    client.force_login(user)
    return client.post("/api/jobs", data=json.dumps(body), content_type="application/json")


def test_a_staff_operator_enqueues_a_public_job_type():
    user = operator()
    response = post(user, FLAKY)
    assert response.status_code == 202, response.content
    record = JobRecord.objects.get(pk=response.json()["id"])
    assert record.job_type == "test.flaky" and record.actor_id == user.pk


def test_a_staff_viewer_is_told_which_permission_is_missing():
    response = post(make_staff("viewer", VIEWERS), FLAKY)
    assert response.status_code == 403, response.content
    assert response.json()["field"] == "job_type"
    assert "jobs.enqueue_jobrecord" in response.json()["message"]
    assert not JobRecord.objects.exists()


@pytest.mark.parametrize("body", INTERNAL, ids=[b["job_type"] for b in INTERNAL])
@pytest.mark.parametrize("who", ["operator", "superuser"])
def test_nobody_enqueues_an_internal_job_type(django_user_model, who, body):
    existing = [enqueue("test.sleep", {"marker": f"keep-{i}", "seconds": 0}) for i in range(3)]
    user = (operator() if who == "operator"
            else django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1"))
    response = post(user, body)
    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["field"] == "job_type" and "internal" in response.json()["message"]
    assert sorted(JobRecord.objects.values_list("pk", flat=True)) == sorted(r.pk for r in existing)


def test_an_unknown_job_type_is_a_4xx_naming_job_type():
    response = post(operator(), {"job_type": "test.no_such_type", "payload": {}})
    assert response.status_code == 400
    assert response.json()["field"] == "job_type"
    assert not JobRecord.objects.exists()


def test_a_payload_field_the_type_does_not_know_is_refused_by_name():
    response = post(operator(), {"job_type": "test.flaky", "payload": {"marker": "typo", "fail_timez": 0}})
    assert response.status_code == 400, response.content  # as any other payload error
    assert response.json()["field"] == "payload.fail_timez" and "unknown field" in response.json()["message"]
    assert not JobRecord.objects.exists()
