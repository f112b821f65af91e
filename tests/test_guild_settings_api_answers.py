"""POST /api/control-panel/guild/settings: a guild's admins (session, with CSRF) and its API token set the
guild's time zone and get the guild's settings back; the change is audited. A bad zone is a 4xx naming
``time_zone``; a member is a 403, another guild's admin or token a 404 naming ``guild``, anonymous a 401
with its challenge, the metrics token a 403; none of them changes anything."""

import json

import pytest
from django.conf import settings as django_settings
from django.test import Client

from audit.models import AuditEvent
from project.models import Guild
from project.tenancy import api_token_create

pytestmark = pytest.mark.django_db

URL = "/api/control-panel/guild/settings"


def post(client, data, **headers):
    return client.post(URL, data=json.dumps(data), content_type="application/json", headers=headers)


def as_user(user, **kwargs):
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def with_token(plain):
    return Client(headers={"Authorization": f"Bearer {plain}"})


def zone_of(guild):
    return Guild.objects.values_list("time_zone", flat=True).get(pk=guild.pk)


def unchanged(world):
    return zone_of(world["mine"]) == "UTC" and not AuditEvent.objects.filter(action="guild.settings_changed").exists()


def test_a_guild_admin_sets_the_zone_and_gets_the_settings_back_audited(world):
    response = post(as_user(world["admin"]), {"guild": world["mine"].slug, "time_zone": "Europe/Paris"},
                    **{"X-Correlation-ID": "guild-api-0001"})
    assert response.status_code == 200, response.content
    assert response.json() == {"id": world["mine"].pk, "slug": "mine", "name": "Mine", "time_zone": "Europe/Paris"}
    assert zone_of(world["mine"]) == "Europe/Paris"
    event = AuditEvent.objects.get(action="guild.settings_changed")
    assert (event.actor, event.guild, event.correlation_id) == (world["admin"], world["mine"], "guild-api-0001")
    assert event.data == {"changed": {"time_zone": {"from": "UTC", "to": "Europe/Paris"}}, "via": "api"}


def test_the_guilds_token_sets_the_zone_by_guild_id_audited_as_the_token(world):
    _, plain = api_token_create(guild=world["mine"], name="ci")
    response = post(with_token(plain), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 200, response.content
    assert response.json()["time_zone"] == "Asia/Tokyo" == zone_of(world["mine"])
    event = AuditEvent.objects.get(action="guild.settings_changed")
    assert event.actor is None and event.guild == world["mine"] and event.data["via"] == "api_token"


@pytest.mark.parametrize("bad, status", [
    ("Mars/Olympus_Mons", 400), ("", 400), ("europe/paris", 400), ("../../etc/passwd", 400),
    ("x" * 65, 422), (3600, 422), (None, 422),
])
def test_a_bad_zone_is_refused_naming_the_field(world, bad, status):
    response = post(as_user(world["admin"]), {"guild": world["mine"].pk, "time_zone": bad})
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["field"] == "time_zone", response.json()
    assert unchanged(world)


def test_a_missing_zone_is_refused_naming_the_field(world):
    response = post(as_user(world["admin"]), {"guild": world["mine"].pk})
    assert response.status_code == 422 and response.json()["field"] == "time_zone", response.content
    assert unchanged(world)


def test_a_member_is_refused_with_a_403(world):
    response = post(as_user(world["member"]), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 403, response.content
    assert response.json()["message"] == "only the guild's admins may change its settings"
    assert unchanged(world)


def test_another_guilds_admin_and_token_get_a_404_naming_the_guild(world):
    response = post(as_user(world["other_admin"]), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 404 and response.json()["field"] == "guild", response.content
    _, other_token = api_token_create(guild=world["other"], name="other")
    response = post(with_token(other_token), {"guild": "mine", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 404 and response.json()["field"] == "guild", response.content
    response = post(as_user(world["staff"]), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 404, "staff who are no member of the guild are no admin of it"
    assert unchanged(world)


def test_anonymous_and_a_bad_token_are_401_with_a_challenge(world):
    response = post(Client(), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="jobdesk"'
    response = post(with_token("jdt_not-a-token"), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 401 and 'error="invalid_token"' in response["WWW-Authenticate"]
    assert unchanged(world)


def test_the_metrics_token_is_refused(world, settings):
    settings.METRICS_TOKEN = "tz-metrics-token-0123456789"
    response = post(with_token("tz-metrics-token-0123456789"), {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 403, response.content
    assert unchanged(world)


def test_a_session_without_its_csrf_token_is_refused(world):
    client = as_user(world["admin"], enforce_csrf_checks=True)
    response = post(client, {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"})
    assert response.status_code == 403 and response.json()["error"] == "csrf_failed", response.content
    assert unchanged(world)
    client.get("/admin/login/")
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert post(client, {"guild": world["mine"].pk, "time_zone": "Asia/Tokyo"}, **{"X-CSRFToken": token}).status_code == 200
    assert zone_of(world["mine"]) == "Asia/Tokyo"
