"""When a branding save has reached every shard, the guild's webhooks subscribed to "branding.applied"
get a delivery (signed, like every webhook); a fan-out that failed on a shard sends none."""

import pytest
from django.db import transaction

from branding import services
from notifications.models import WebhookDelivery
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_applied_branding_is_published_to_the_guilds_webhooks(world, shard_peers, start_worker, settings):
    from notifications import services as notification_services

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    endpoint = notification_services.webhook_endpoint_create(guild=world["mine"], url="https://hooks.example.com/in",
                                                      events=["branding.applied"])
    shard_peers(1)
    start_worker(env=WORKER_ENV)
    with transaction.atomic():
        fan_out, _ = services.branding_save(guild=world["mine"], user=world["admin"], display_name="Mine bot",
                                            color="#5865F2", footer_text="", icon_url="")
    fan_out = wait_for_fan_out(fan_out.pk)
    assert fan_out.status == "applied"
    endpoint = endpoint[0] if isinstance(endpoint, tuple) else endpoint
    deliveries = list(WebhookDelivery.objects.filter(endpoint=endpoint))
    assert [d.event for d in deliveries] == ["branding.applied"]
    assert deliveries[0].payload["data"] == {"version": 1, "fan_out_id": fan_out.pk, "shards": 1}
