"""The API names every bad field of a request at once, in one 422, in plain words: an export with a bad
format, a range that ends before it starts and an unknown metric gets all three back (not the first
only, as a 400); no message carries pydantic's "Value error, " prefix; a body that is not JSON is a 400
``invalid_json`` saying so."""

import json

import pytest
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord

pytestmark = pytest.mark.django_db

EXPORT = "/api/control-panel/analytics/export"
BRANDING = "/api/control-panel/domain-branding"


@pytest.fixture
def admin_client(world):
    client = Client()
    client.force_login(world["admin"])
    return client


def post(client, path, data):
    raw = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(path, data=raw, content_type="application/json")


def test_an_export_with_three_bad_fields_names_all_three(world, admin_client):
    response = post(admin_client, EXPORT, {"guild": world["mine"].pk, "format": "pdf", "start": "2026-02-01",
                                           "end": "2026-01-01", "metrics": ["nope"]})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid_request"
    messages = {e["field"]: e["message"] for e in body["errors"]}
    assert messages == {
        "format": "unknown format 'pdf'; use one of csv, jsonl, xlsx",
        "end": "the range ends before it starts",
        "metrics": ("unknown metric 'nope'; known: messages, members_joined, members_left, commands, reactions, "
                    "voice_minutes"),
    }
    assert (body["field"], body["message"]) == ("format", messages["format"]), "the first, for simple clients"
    assert not Export.objects.exists() and not JobRecord.objects.exists()


def test_a_bad_start_is_named_without_a_range_error_built_on_it(world, admin_client):
    response = post(admin_client, EXPORT, {"guild": world["mine"].pk, "format": "csv", "start": "January",
                                           "end": "2026-01-01", "metrics": ["messages"]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["start"]


def test_no_message_starts_with_pydantics_value_error(world, admin_client):
    response = post(admin_client, BRANDING, {"guild": world["mine"].pk, "color": "blue", "icon_url": "http://x.y/i"})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "color" and body["message"] == "a hex colour like #5865f2", body
    assert [e["field"] for e in body["errors"]] == ["color", "icon_url"]
    assert not any("Value error" in e["message"] for e in body["errors"]), body


@pytest.mark.parametrize("raw", ['{"guild": 1, "format": ', "not json at all", b"\xff\xfe{}"])
def test_a_body_that_is_not_json_is_400_invalid_json(world, admin_client, raw):
    for path in (EXPORT, BRANDING):
        response = post(admin_client, path, raw)
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["error"] == "invalid_json" and "not valid JSON" in body["message"], body


def test_json_nested_too_deep_to_read_is_400_invalid_json(world, admin_client):
    deep = '{"guild": ' + "[" * 5000 + "]" * 5000 + "}"
    for path in (EXPORT, BRANDING):
        response = post(admin_client, path, deep)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_json", response.json()
