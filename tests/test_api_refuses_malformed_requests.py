"""Bad input at the API's edge answers a 4xx JSON body, never a 5xx or an HTML page: a body that is not
JSON (wrong Content-Type, invalid UTF-8, not JSON at all), and an X-Correlation-ID that is not a
plausible ID, which is replaced rather than echoed."""

import json

import pytest
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord

pytestmark = pytest.mark.django_db(transaction=True)

JOBS, EXPORT = "/api/jobs", "/api/control-panel/analytics/export"


@pytest.fixture
def callers(world, staff_user):
    """Each POST endpoint with a caller who may use it and a body it would accept."""
    export = {"guild": world["mine"].pk, "format": "csv", "start": "2026-01-01", "end": "2026-01-31",
              "metrics": ["messages"]}
    return [(JOBS, staff_user, {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": 0}}),
            (EXPORT, world["admin"], export)]


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def assert_4xx_json(response):
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["message"]


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
])
def test_a_json_body_sent_as_another_media_type_is_415(callers, content_type):
    for path, user, body in callers:
        response = client_for(user).post(path, data=json.dumps(body), content_type=content_type)
        assert_4xx_json(response)
        assert response.status_code == 415 and "application/json" in response.json()["message"]
    assert not JobRecord.objects.exists() and not Export.objects.exists()


@pytest.mark.parametrize("raw", [
    b'{"job_type": "test.sleep\xff\xfe", "payload": {}}', b"\xc3\x28\xa0\xa1", b"{not json", b"<xml/>", b"[1, 2",
    b"\x00" * 64, b"[" * 50_000,
], ids=["invalid-utf8-in-json", "invalid-utf8", "broken-json", "xml", "truncated", "nul-bytes", "deep-nesting"])
def test_a_body_that_is_not_json_is_a_4xx_json_answer(callers, raw):
    for path, user, _body in callers:
        assert_4xx_json(client_for(user).post(path, data=raw, content_type="application/json"))
    assert not JobRecord.objects.exists() and not Export.objects.exists()


def test_charset_parameter_on_json_is_accepted(callers):
    path, user, body = callers[1]
    response = client_for(user).post(path, data=json.dumps(body), content_type="application/json; charset=utf-8")
    assert response.status_code == 202, response.content


@pytest.mark.parametrize("incoming", [
    "short", "x" * 65, "<script>alert(1)</script>", "id with spaces 123", "ünïcode-id-12345", "a\tb\tc\td\te",
])
def test_an_invalid_correlation_id_is_replaced_not_echoed(callers, incoming):
    path, user, body = callers[0]
    response = client_for(user).post(path, data=json.dumps(body), content_type="application/json",
                                     headers={"X-Correlation-ID": incoming})
    assert response.status_code == 202, response.content
    used = response["X-Correlation-ID"]
    assert used != incoming and incoming not in response.content.decode()
    assert response.json()["correlation_id"] == used == JobRecord.objects.get().correlation_id
    refused = Client().get("/api/no-such-endpoint", headers={"X-Correlation-ID": incoming})
    assert refused.status_code == 404 and refused["X-Correlation-ID"] not in ("", incoming)


def test_a_valid_correlation_id_is_kept(callers):
    path, user, body = callers[0]
    response = client_for(user).post(path, data=json.dumps(body), content_type="application/json",
                                     headers={"X-Correlation-ID": "req-2026-01-31:abc"})
    assert response["X-Correlation-ID"] == "req-2026-01-31:abc" == JobRecord.objects.get().correlation_id
