"""POST /api/control-panel/domain-branding: a guild's admins (session) and its API token save the
guild's embed overrides and get 202 with the fan-out's job, correlation ID and status URL; the settings
and the job are written in one transaction; a plain member, another guild's admin, another guild's
token and bad fields are refused with a 4xx JSON naming the problem, and nothing is written; an
Idempotency-Key makes one save however often it is sent."""

import json

import pytest
from django.test import Client

from branding.models import FanOut, GuildBranding
from jobs.models import JobRecord
from project.tenancy import api_token_create
from tests.conftest import VIEWERS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/control-panel/domain-branding"


def body(guild_, **overrides):
    return {"guild": guild_.pk, "display_name": "Mine bot", "color": "#5865F2", "footer_text": "by Mine",
            "icon_url": "https://cdn.example.com/icon.png", **overrides}


def post(client, data, **headers):
    return client.post(URL, data=json.dumps(data), content_type="application/json", headers=headers)


def as_user(user):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def nothing_written():
    return not GuildBranding.objects.exists() and not FanOut.objects.exists() and not JobRecord.objects.exists()


def test_a_guild_admin_saves_and_gets_202_with_the_fan_out_job(world):
    response = post(as_user(world["admin"]), body(world["mine"]), **{"X-Correlation-ID": "branding-test-0001"})
    assert response.status_code == 202, response.content
    answer = response.json()
    job = JobRecord.objects.get(pk=answer["id"])
    assert job.job_type == "branding.fan_out" and job.guild == world["mine"] and job.actor == world["admin"]
    assert answer["correlation_id"] == "branding-test-0001" == job.correlation_id
    assert answer["status_url"].endswith(f"/api/jobs/{job.pk}") and answer["version"] == 1
    fan_out = FanOut.objects.get(pk=answer["fan_out_id"])
    assert fan_out.job_id == job.pk and fan_out.snapshot["version"] == 1
    branding = GuildBranding.objects.get(guild=world["mine"])
    assert (branding.display_name, branding.color, branding.version) == ("Mine bot", "#5865f2", 1)
    assert fan_out.snapshot["color_int"] == 0x5865F2 and "apply_if" in fan_out.snapshot
    # The status URL answers the admin.
    assert as_user(world["admin"]).get(f"/api/jobs/{job.pk}").json()["job_type"] == "branding.fan_out"
    # A second save is version 2.
    assert post(as_user(world["admin"]), body(world["mine"], color="#000000")).json()["version"] == 2


def test_the_guilds_token_may_save_for_its_guild_only(world):
    _token, plain = api_token_create(guild=world["mine"], name="ci")
    client = Client()
    auth = {"Authorization": f"Bearer {plain}"}
    assert post(client, body(world["mine"]), **auth).status_code == 202
    refused = post(client, body(world["other"]), **auth)
    assert refused.status_code == 404 and refused.json()["field"] == "guild"
    assert not GuildBranding.objects.filter(guild=world["other"]).exists()


@pytest.mark.parametrize("who, status", [(None, 401), ("member", 403), ("other_admin", 404), ("staff", 404)])
def test_others_are_refused_and_nothing_is_written(world, who, status):
    response = post(as_user(world.get(who)), body(world["mine"]))
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert nothing_written()


@pytest.mark.parametrize("field, value", [
    ("color", "blue"), ("color", "#12345"), ("color", "#GGGGGG"),
    ("display_name", "x" * 257), ("footer_text", "x" * 2049),
    ("icon_url", "http://cdn.example.com/i.png"), ("icon_url", "javascript:alert(1)"), ("icon_url", "https://"),
    ("color", 5), ("guild", "not a slug!"), ("guild", 1.5),
])
def test_bad_fields_are_422_naming_the_field(world, field, value):
    response = post(as_user(world["admin"]), body(world["mine"], **{field: value}))
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert nothing_written()


def test_limits_are_discords(world):
    ok = post(as_user(world["admin"]), body(world["mine"], display_name="x" * 256, footer_text="y" * 2048))
    assert ok.status_code == 202


def test_an_idempotency_key_makes_one_save(world):
    client = as_user(world["admin"])
    first = post(client, body(world["mine"]), **{"Idempotency-Key": "save-1"})
    again = post(client, body(world["mine"]), **{"Idempotency-Key": "save-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and FanOut.objects.count() == 1
    assert GuildBranding.objects.get().version == 1
    other = post(client, body(world["mine"], color="#000000"), **{"Idempotency-Key": "save-1"})
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert FanOut.objects.count() == 1


def test_a_save_rolled_back_with_its_caller_leaves_neither_settings_nor_job(world, clean_redis):
    from django.db import transaction

    from branding import services
    from jobs.connection import get_queue

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.branding_save(guild=world["mine"], user=world["admin"], color="#123456")
            raise RuntimeError("the caller's own work failed")
    assert nothing_written()
    from django.conf import settings

    assert all(get_queue(name).count == 0 for name in settings.RQ_QUEUES), "nothing was sent to RQ"


@pytest.mark.parametrize("who, status", [(None, 401), ("member", 200), ("admin", 200), ("other_admin", 404),
                                         ("staff", 404), ("viewer", 200)])
def test_who_may_read_a_fan_out(world, who, status):
    url = post(as_user(world["admin"]), body(world["mine"])).json()["fan_out_url"]
    # Staff who may view fan-outs read every guild's, as GET /api/jobs/<id>; being staff alone grants nothing.
    caller = make_staff("viewer", VIEWERS) if who == "viewer" else world.get(who)
    response = as_user(caller).get(url)
    assert response.status_code == status, response.content
    if status == 200:
        answer = response.json()
        assert answer["status"] == "sending" and answer["version"] == 1 and answer["shards"] == []


def test_a_token_reads_its_guilds_fan_outs_only(world):
    url = post(as_user(world["admin"]), body(world["mine"])).json()["fan_out_url"]
    _t, mine = api_token_create(guild=world["mine"], name="mine")
    _t, other = api_token_create(guild=world["other"], name="other")
    assert Client().get(url, headers={"Authorization": f"Bearer {mine}"}).status_code == 200
    assert Client().get(url, headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert Client().get(url.rsplit("/", 1)[0] + "/999999", headers={"Authorization": f"Bearer {mine}"}).status_code == 404
