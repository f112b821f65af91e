"""Bad input is refused with an error naming the field, and nothing is written."""

import json

import pytest

from audit.models import AuditEvent
from jobs.enqueue import enqueue, enqueue_many
from jobs.errors import JobError
from jobs.models import JobRecord

pytestmark = pytest.mark.django_db(transaction=True)


def assert_nothing_written(clean_redis):
    assert not JobRecord.objects.exists()
    assert not AuditEvent.objects.exists()
    assert not [k for k in clean_redis.keys("rq:job:*")]


def test_a_payload_the_schema_refuses_names_the_field(clean_redis):
    with pytest.raises(JobError) as caught:
        enqueue("test.sleep", {"marker": "m", "seconds": "soon"})
    assert caught.value.field == "payload.seconds"
    assert "payload.seconds" in str(caught.value)
    assert_nothing_written(clean_redis)


def test_a_missing_field_is_named(clean_redis):
    with pytest.raises(JobError) as caught:
        enqueue("test.sleep", {"seconds": 1})
    assert caught.value.field == "payload.marker"
    assert caught.value.as_dict()["errors"] == [{"field": "payload.marker", "message": "Field required"}]
    assert_nothing_written(clean_redis)


def test_an_unknown_job_type_is_refused(clean_redis):
    with pytest.raises(JobError) as caught:
        enqueue("test.no_such_type", {})
    assert caught.value.field == "job_type" and caught.value.code == "unknown_job_type"
    assert_nothing_written(clean_redis)


def test_one_bad_payload_in_a_batch_writes_nothing_and_names_its_index(clean_redis):
    payloads = [{"marker": f"ok{i}", "seconds": 0} for i in range(5)]
    payloads[3] = {"marker": "bad", "seconds": -1}
    with pytest.raises(JobError) as caught:
        enqueue_many("test.sleep", payloads)
    assert caught.value.field == "payloads[3].seconds"
    assert_nothing_written(clean_redis)


@pytest.mark.parametrize("kwargs, field", [
    ({"priority": "urgent"}, "priority"),
    ({"delay": -5}, "delay"),
    ({"delay": 5, "run_at": "tomorrow"}, "run_at"),
    ({"correlation_id": "bad id\nwith newline"}, "correlation_id"),
])
def test_bad_options_are_refused(kwargs, field, clean_redis):
    with pytest.raises(JobError) as caught:
        enqueue("test.sleep", {"marker": "m", "seconds": 0}, **kwargs)
    assert caught.value.field == field
    assert_nothing_written(clean_redis)


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def post(client, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/jobs", data=data, content_type="application/json", headers=headers)


def test_the_api_answers_400_json_naming_the_payload_field(staff_client, clean_redis):
    response = post(staff_client, {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": "x"}})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["field"] == "payload.seconds"
    assert not JobRecord.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({"job_type": "test.sleep", "payload": {}, "priority": "now"}, "priority"),
    ({"payload": {}}, "job_type"),
    ({"job_type": "test.sleep", "payload": [1, 2]}, "payload"),
])
def test_the_api_answers_422_json_for_malformed_requests(staff_client, body, field):
    response = post(staff_client, body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert not JobRecord.objects.exists()


def test_malformed_json_is_a_4xx_json_answer(staff_client):
    response = post(staff_client, "{not json")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert not JobRecord.objects.exists()


def test_the_api_is_for_logged_in_staff_only(client, django_user_model):
    assert post(client, {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": 0}}).status_code == 401
    user = django_user_model.objects.create_user("member", password="pw-member-1")
    client.force_login(user)
    response = post(client, {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": 0}})
    assert response.status_code == 403 and response.json()["error"]
    assert not JobRecord.objects.exists()


def test_the_api_refuses_a_post_without_csrf_token(staff_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = post(client, {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": 0}})
    assert response.status_code == 403
    assert not JobRecord.objects.exists()
