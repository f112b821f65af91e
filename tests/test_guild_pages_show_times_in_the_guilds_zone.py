"""Every time on a guild's pages is in the guild's time zone, labelled as the exports page labels it
("Times on this page are in the guild's time zone, Europe/Paris", and the zone in the column heading),
and readable (to the second, no ISO "T", offset or microseconds): webhook deliveries and their attempts,
the audit trail, and the branding page's shard table, both as the page renders it and in the status
JSON its script polls."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_event_record
from branding import services as branding_services
from branding.models import BotShard, ShardDelivery
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from project.models import Guild

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
UTC_MOMENT = datetime(2026, 12, 7, 23, 29, 11, 429330, tzinfo=timezone.utc)
PARIS_TEXT = "2026-12-08 00:29:11"  # 23:29:11 UTC is 00:29:11 the next day in Paris (UTC+1 in December)
ZONE_NOTE = "Times on this page are in the guild's time zone, <strong>Europe/Paris</strong>"


@pytest.fixture
def paris(world):
    Guild.objects.filter(pk=world["mine"].pk).update(time_zone="Europe/Paris")
    client = Client()
    client.force_login(world["admin"])
    return client


def test_webhook_deliveries_and_their_attempts_are_in_the_guilds_zone(world, paris):
    endpoint = WebhookEndpoint.objects.create(guild=world["mine"], url="https://93.184.215.14/h", secret="s" * 40,
                                              events=["job.dead"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="job.dead", payload={}, status="delivered")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=UTC_MOMENT)
    attempt = WebhookAttempt.objects.create(delivery=delivery, number=1, response_status=200, elapsed_ms=5)
    WebhookAttempt.objects.filter(pk=attempt.pk).update(at=UTC_MOMENT)
    html = paris.get("/panel/mine/webhooks/").content.decode()
    row = html.split(f'id="delivery-{delivery.pk}"')[1].split("</tr>")[0]
    assert PARIS_TEXT in row and "00:29:11: HTTP 200" in row
    assert "23:29:11" not in row
    assert ZONE_NOTE in html and "when (Europe/Paris)" in html


def test_the_audit_trail_is_in_the_guilds_zone(world, paris):
    audit_event_record(action="branding.saved", resource_type="branding", resource_id=1, actor=world["admin"],
                       guild=world["mine"])
    created = AuditEvent.objects.get().created_at
    html = paris.get("/panel/mine/audit/").content.decode()
    assert created.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S") in html
    assert created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") not in html
    assert ZONE_NOTE in html and "time (Europe/Paris)" in html and "(UTC)" not in html


def test_the_branding_shard_table_is_in_the_guilds_zone_on_the_page_and_in_its_json(world, paris):
    shard = BotShard.objects.create(shard_id=3, base_url="https://shard3.example.com/", signing_secret="s" * 20)
    with transaction.atomic():
        fan_out, _ = branding_services.branding_save(guild=world["mine"], user=world["admin"], color="#010203")
    ShardDelivery.objects.create(fan_out=fan_out, shard=shard, status="applied", attempts=1, last_http_status=200,
                                 last_attempt_at=UTC_MOMENT)
    html = paris.get("/panel/mine/branding/").content.decode()
    row = html.split('id="shard-3"')[1].split("</tr>")[0]
    assert PARIS_TEXT in row and "T23:29:11" not in row and ".429330" not in row
    assert ZONE_NOTE in html and "last attempt (Europe/Paris)" in html

    [shard_json] = paris.get("/panel/mine/branding/status/").json()["fan_out"]["shards"]
    assert shard_json["at_display"] == PARIS_TEXT, "what the polling script puts in the table"
    assert shard_json["at"] == UTC_MOMENT.isoformat(), "the machine-readable time stays as it was"


def test_a_guild_in_utc_says_so(world):
    client = Client()
    client.force_login(world["admin"])
    html = client.get("/panel/mine/audit/").content.decode()
    assert "time (UTC)" in html and "<strong>UTC</strong>" in html
