"""POST /api/control-panel/analytics/export and GET /api/jobs/<id>: who may ask and see what, bad
input refused with a 4xx naming the field (nothing written), and idempotent repeats."""

import json

import pytest
from django.test import Client

from exports.models import Export
from jobs.models import JobRecord
from project.tenancy import api_token_create, api_token_revoke
from tests.conftest import VIEWERS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

EXPORT = "/api/control-panel/analytics/export"


def body(guild_, **overrides):
    return {"guild": guild_.pk, "format": "csv", "start": "2026-01-01", "end": "2026-01-31",
            "metrics": ["messages"], **overrides}


def post(client, data, **headers):
    raw = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(EXPORT, data=raw, content_type="application/json", headers=headers)


def as_user(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("who, status", [
    (None, 401), ("member", 403), ("admin", 202), ("other_admin", 404), ("staff", 404),
])
def test_who_may_ask_for_an_export(world, who, status):
    response = post(as_user(world.get(who)), body(world["mine"]))
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert JobRecord.objects.exists() == (status == 202) and Export.objects.exists() == (status == 202)
    if status == 202:
        assert response.json()["export_id"] == Export.objects.get().pk
    if status == 404:
        assert response.json()["field"] == "guild"


@pytest.mark.parametrize("who, status", [
    (None, 401), ("member", 200), ("admin", 200), ("other_admin", 404), ("staff", 404), ("viewer", 200),
])
def test_who_may_see_a_guilds_job(world, who, status):
    """Members of the guild, and staff who may view jobs; staff without that right see nothing."""
    job_id = post(as_user(world["admin"]), body(world["mine"])).json()["id"]
    caller = make_staff("viewer", VIEWERS) if who == "viewer" else world.get(who)
    response = as_user(caller).get(f"/api/jobs/{job_id}")
    assert response.status_code == status
    if status == 200:
        assert response.json()["job_type"] == "exports.generate"


def test_a_guild_token_acts_for_its_guild_only_until_revoked(world):
    token, plain = api_token_create(guild=world["mine"], name="ci")
    _other, other_plain = api_token_create(guild=world["other"], name="x")
    client = Client()
    auth = {"Authorization": f"Bearer {plain}"}
    created = post(client, body(world["mine"]), **auth)
    assert created.status_code == 202
    assert client.get(f"/api/jobs/{created.json()['id']}", headers=auth).status_code == 200
    assert client.get(f"/api/jobs/{created.json()['id']}",
                      headers={"Authorization": f"Bearer {other_plain}"}).status_code == 404
    assert post(client, body(world["other"]), **auth).status_code == 404
    assert plain not in json.dumps(list(token.__class__.objects.values()), default=str), "only the hash is stored"
    api_token_revoke(token)
    assert post(client, body(world["mine"]), **auth).status_code == 401


@pytest.mark.parametrize("overrides, status, field", [
    ({"format": "pdf"}, 422, "format"),
    ({"start": "2026-02-01", "end": "2026-01-01"}, 422, "end"),
    ({"start": "2025-01-01", "end": "2026-01-02"}, 422, "end"),
    ({"start": "9999-12-31", "end": "9999-12-31"}, 422, "end"),  # in the future (its job overflowed)
    ({"metrics": ["messages", "gold"]}, 422, "metrics"),
    ({"metrics": []}, 422, "metrics"),
    ({"start": "January"}, 422, "start"),
    ({"guild": "not a slug!"}, 422, "guild"),  # the id or the slug only
    ({"guild": 1.5}, 422, "guild"),
])
def test_bad_input_is_refused_naming_the_field(world, overrides, status, field):
    response = post(as_user(world["admin"]), body(world["mine"], **overrides))
    assert response.status_code == status, response.content
    assert response.json()["field"] == field
    assert not JobRecord.objects.exists() and not Export.objects.exists()


def test_malformed_json_and_oversized_bodies_are_refused(world):
    client = as_user(world["admin"])
    malformed = post(client, '{"guild": 1, "format": ')
    assert 400 <= malformed.status_code < 500 and malformed["Content-Type"].startswith("application/json")
    huge = post(client, json.dumps({**body(world["mine"]), "padding": "x" * 70_000}))
    assert huge.status_code == 413 and huge.json()["message"]
    assert not JobRecord.objects.exists() and not Export.objects.exists()


def test_an_idempotency_key_returns_the_same_job(world):
    client = as_user(world["admin"])
    first = post(client, body(world["mine"]), **{"Idempotency-Key": "export-2026-01"})
    again = post(client, body(world["mine"]), **{"Idempotency-Key": "export-2026-01"})
    other = post(client, body(world["mine"]), **{"Idempotency-Key": "export-2026-02"})
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert Export.objects.count() == 2


@pytest.mark.parametrize("who, status", [(None, 401), ("admin", 403), ("staff", 403), ("viewer", 200),
                                         ("token", 200)])
def test_queue_health_is_for_staff_and_the_metrics_token(world, settings, who, status):
    settings.METRICS_TOKEN = "metrics-secret-token-1"
    client = as_user(make_staff("viewer", VIEWERS) if who == "viewer" else world.get(who))
    headers = {"Authorization": "Bearer metrics-secret-token-1"} if who == "token" else {}
    response = client.get("/api/queues/health", headers=headers)
    assert response.status_code == status
    if status == 200:
        row = next(q for q in response.json()["queues"] if q["name"].endswith(".exports"))
        assert set(row) >= {"waiting", "active", "scheduled", "failed", "dead", "paused", "healthy"}
    assert Client().get("/api/queues/health", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_the_guild_token_command_prints_a_working_token(world):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("guild_token", "mine", "reporting", stdout=out, stderr=StringIO())
    plain = out.getvalue().strip()
    assert post(Client(), body(world["mine"]), Authorization=f"Bearer {plain}").status_code == 202
    with pytest.raises(CommandError, match="no guild"):
        call_command("guild_token", "nope", "x", stdout=StringIO(), stderr=StringIO())
