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
def callers(every_post):
    """The jobs and export endpoints with a caller who may use each and a body it would accept."""
    return every_post[:2]


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
    b'{"job_type": "test.sleep", "payload": {"marker": "\\u0000", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}}",
], ids=["invalid-utf8-in-json", "invalid-utf8", "broken-json", "xml", "truncated", "nul-bytes", "deep-nesting",
        "deep-nesting-beside-a-nul"])
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


@pytest.fixture
def every_post(world, staff_user):
    """Every JSON POST endpoint, a caller who may use it, and a body it accepts."""
    guild = world["mine"].pk
    return [
        (JOBS, staff_user, {"job_type": "test.sleep", "payload": {"marker": "m", "seconds": 0}}),
        (EXPORT, world["admin"], {"guild": guild, "format": "csv", "start": "2026-01-01", "end": "2026-01-31",
                                  "metrics": ["messages"]}),
        ("/api/control-panel/domain-branding", world["admin"], {"guild": guild, "display_name": "Mine"}),
        ("/api/control-panel/guild/settings", world["admin"], {"guild": guild, "time_zone": "UTC"}),
    ]


def nothing_written():
    from audit.models import AuditEvent
    from branding.models import GuildBranding
    from project.models import Guild

    return (not JobRecord.objects.exists() and not Export.objects.exists() and not GuildBranding.objects.exists()
            and set(Guild.objects.values_list("time_zone", flat=True)) == {"UTC"}
            and not AuditEvent.objects.filter(action__startswith="guild.").exists())


def first_text_field(body):
    """The path and JSON text of ``body`` with its first text value replaced by ``{marker}``."""
    for key, value in body.items():
        if key == "payload":
            return "payload.marker", json.dumps({**body, "payload": {**value, "marker": "{marker}"}})
        if isinstance(value, str):
            return key, json.dumps({**body, key: "{marker}"})
    raise AssertionError(body)


@pytest.mark.parametrize("escape", ["a\\u0000b", "lone \\ud800 half", "\\udfff"], ids=["nul", "high-half", "low-half"])
def test_text_no_column_can_hold_is_422_naming_its_field(every_post, escape):
    """NUL and a lone surrogate half are valid JSON escapes that PostgreSQL (NUL) or UTF-8 (the half)
    cannot store: refused before any endpoint reads them (the branding save answered 500)."""
    for path, user, body in every_post:
        field, template = first_text_field(body)
        response = client_for(user).post(path, data=template.replace('"{marker}"', f'"{escape}"'),
                                         content_type="application/json")
        assert response.status_code == 422, (path, response.content[:300])
        assert response.json()["field"] == field and "NUL" in response.json()["message"], path
    assert nothing_written()


def test_a_nul_under_an_empty_key_is_refused_too(every_post):
    """The path of a value under an empty key at the top is "": still found (the body is named)."""
    path, user, _body = every_post[0]
    response = client_for(user).post(path, data='{"": "a\\u0000b", "job_type": "test.sleep"}',
                                     content_type="application/json")
    assert response.status_code == 422 and response.json()["field"] == "body", response.content[:300]
    assert nothing_written()


def test_a_surrogate_pair_and_an_escaped_backslash_are_ordinary_text(every_post):
    path, user, body = every_post[2]
    response = client_for(user).post(path, data=json.dumps({**body, "display_name": "\\u0000 and \U0001f642"}),
                                     content_type="application/json")
    assert response.status_code == 202, response.content


def test_a_misspelt_field_is_422_naming_it_not_ignored(every_post):
    """``colour`` for ``color`` would have saved the branding with no colour at all."""
    for path, user, body in every_post:
        response = client_for(user).post(path, data=json.dumps({**body, "colour": "#5865f2"}),
                                         content_type="application/json")
        assert response.status_code == 422, (path, response.content[:300])
        assert response.json()["field"].endswith("colour"), response.json()
    assert nothing_written()


@pytest.mark.parametrize("key", ["a\x01b", "tab\there", "é-key"])
def test_an_idempotency_key_of_other_than_printable_ascii_is_refused(every_post, key):
    for path, user, body in every_post[1:3]:
        response = client_for(user).post(path, data=json.dumps(body), content_type="application/json",
                                         headers={"Idempotency-Key": key})
        assert_4xx_json(response)
        assert response.json()["field"] == "Idempotency-Key"
    assert nothing_written()
