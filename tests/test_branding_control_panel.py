"""The control panel's branding page: a guild admin sees the form, the embed preview and the latest
fan-out per shard; bad input comes back with the error beside its field and nothing saved; a member
may look but not save; another guild's admin gets a 404. The admin: the shard registry never shows a
secret, and "retry failed shards" is for those holding branding.retry_fanout, audited."""

import pytest
from django.db import transaction
from django.test import Client

from audit.models import AuditEvent
from branding import services
from branding.models import BotShard, FanOut, GuildBranding, ShardDelivery
from jobs.models import JobRecord, Status
from tests.conftest import OPERATORS, VIEWERS, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"display_name": "Mine bot", "color": "#5865f2", "footer_text": "by Mine", "icon_url": "https://cdn.example.com/i.png"}


def as_user(user):
    client = Client()
    client.force_login(user)
    return client


def page(guild):
    return f"/panel/{guild.slug}/branding/"


def test_a_guild_admin_sees_the_form_and_the_preview(world):
    response = as_user(world["admin"]).get(page(world["mine"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="branding-form"' in html and 'id="embed-preview"' in html
    assert '<script src="/static/branding/branding.' in html, "the preview's script is served from our static files"
    assert f'href="{page(world["mine"])}"' in as_user(world["admin"]).get(f"/panel/{world['mine'].slug}/").content.decode()


def test_bad_input_comes_back_with_errors_beside_the_fields(world):
    response = as_user(world["admin"]).post(page(world["mine"]), {**FORM, "color": "blue", "icon_url": "http://x.y/i.png",
                                                                  "footer_text": "f" * 2049})
    assert response.status_code == 400
    html = response.content.decode()
    for field in ("color", "icon_url", "footer_text"):
        block = html.split(f'id="field-{field}"')[1].split('class="field"')[0]
        assert 'class="errorlist' in block, f"an error beside {field}"
    assert "a hex colour like #5865f2" in html and "an https:// URL" in html
    assert not GuildBranding.objects.exists() and not JobRecord.objects.exists()


def test_a_valid_save_writes_the_settings_and_enqueues_the_fan_out(world):
    response = as_user(world["admin"]).post(page(world["mine"]), FORM)
    assert response.status_code == 302
    branding = GuildBranding.objects.get(guild=world["mine"])
    assert branding.version == 1 and branding.display_name == "Mine bot"
    fan_out = FanOut.objects.get()
    assert fan_out.job.job_type == "branding.fan_out"
    assert AuditEvent.objects.filter(action="branding.saved", actor=world["admin"]).count() == 1
    html = as_user(world["admin"]).get(page(world["mine"])).content.decode()
    assert 'value="Mine bot"' in html and 'id="fan-out-status"' in html
    status = as_user(world["member"]).get(page(world["mine"]) + "status/").json()
    assert status["fan_out"]["version"] == 1


def test_a_member_may_look_but_not_save_and_another_guilds_admin_sees_nothing(world):
    member = as_user(world["member"])
    assert member.get(page(world["mine"])).status_code == 200
    assert 'id="branding-form"' not in member.get(page(world["mine"])).content.decode()
    assert member.post(page(world["mine"]), FORM).status_code == 403
    other = as_user(world["other_admin"])
    assert other.get(page(world["mine"])).status_code == 404
    assert other.post(page(world["mine"]), FORM).status_code == 404
    assert other.get(page(world["mine"]) + "status/").status_code == 404
    assert not GuildBranding.objects.exists()


def failed_fan_out(world):
    shard = BotShard.objects.create(shard_id=7, base_url="https://shard7.example.com/", signing_secret="s" * 20)
    with transaction.atomic():
        fan_out, _ = services.branding_save(guild=world["mine"], user=world["admin"], color="#010203")
    JobRecord.objects.filter(pk=fan_out.job_id).update(status=Status.SUCCEEDED)
    ShardDelivery.objects.create(fan_out=fan_out, shard=shard, status="failed", attempts=3, error="no answer")
    FanOut.objects.filter(pk=fan_out.pk).update(status="failed")
    return fan_out


def test_retry_failed_shards_from_the_panel_is_for_the_guilds_admins(world):
    fan_out = failed_fan_out(world)
    url = f"{page(world['mine'])}fan-outs/{fan_out.pk}/retry/"
    assert as_user(world["member"]).post(url).status_code == 403
    assert as_user(world["other_admin"]).post(url).status_code == 404
    assert JobRecord.objects.get(pk=fan_out.job_id).status == Status.SUCCEEDED
    assert as_user(world["admin"]).post(url).status_code == 302
    assert JobRecord.objects.get(pk=fan_out.job_id).status == Status.QUEUED
    assert FanOut.objects.get(pk=fan_out.pk).status == "sending", "the page shows it being sent again"
    again = as_user(world["admin"]).post(url)
    assert again.status_code == 409 and "still being sent" in again.content.decode()
    assert AuditEvent.objects.filter(action="branding.retry_failed_shards", actor=world["admin"]).count() == 1


def test_the_shard_registry_never_shows_a_secret(world, django_user_model):
    su = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    BotShard.objects.create(shard_id=1, base_url="https://shard1.example.com/", signing_secret="top-secret-value-123")
    client = as_user(su)
    listing = client.get("/admin/branding/botshard/").content.decode()
    change = client.get(f"/admin/branding/botshard/{BotShard.objects.get().pk}/change/").content.decode()
    assert "top-secret-value-123" not in listing and "top-secret-value-123" not in change
    # An internal base URL is refused when saved; an empty secret keeps the old one.
    shard = BotShard.objects.get()
    refused = client.post(f"/admin/branding/botshard/{shard.pk}/change/",
                          {"shard_id": 1, "base_url": "http://127.0.0.1:9/", "signing_secret": "", "enabled": "on"})
    assert refused.status_code == 200 and "internal address" in refused.content.decode()
    kept = client.post(f"/admin/branding/botshard/{shard.pk}/change/",
                       {"shard_id": 1, "base_url": "https://shard1b.example.com/", "signing_secret": "", "enabled": "on"})
    assert kept.status_code == 302
    shard.refresh_from_db()
    assert shard.base_url == "https://shard1b.example.com/" and shard.signing_secret == "top-secret-value-123"


def test_retry_failed_shards_in_the_admin_needs_the_permission(world):
    fan_out = failed_fan_out(world)
    data = {"action": "retry_failed_shards", "_selected_action": [fan_out.pk]}
    viewer = as_user(make_staff("viewer", VIEWERS))
    assert viewer.get(f"/admin/branding/fanout/{fan_out.pk}/change/").status_code == 200
    viewer.post("/admin/branding/fanout/", data)
    assert JobRecord.objects.get(pk=fan_out.job_id).status == Status.SUCCEEDED, "a viewer changes nothing"
    operator = make_staff("operator", OPERATORS)
    assert as_user(operator).post("/admin/branding/fanout/", data).status_code == 302
    assert JobRecord.objects.get(pk=fan_out.job_id).status == Status.QUEUED
    assert AuditEvent.objects.filter(action="branding.retry_failed_shards", actor=operator).count() == 1
