"""A shard disabled by staff during a fan-out is sent nothing more: its next attempt closes the delivery
as skipped ("shard disabled"), the fan-out ends applied (a skipped shard is not a failure), and "Retry
failed shards" leaves a disabled shard out."""

import pytest
from django.db import transaction

from branding import services
from branding.models import BotShard, FanOut, ShardDelivery
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_shard_disabled_mid_fan_out_is_skipped(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    down = shard_peers(1, lambda snapshot, n: 503)
    shard_peers(2)
    start_worker(env={**WORKER_ENV, "BRANDING_RETRY_DELAY": "2", "BRANDING_MAX_ATTEMPTS": "5"})
    with transaction.atomic():
        fan_out, _created = services.branding_save(guild=world["mine"], user=world["admin"], display_name="Mine")
    wait_for(lambda: len(down.received) == 1, timeout=30, message="the first request to shard 1")
    BotShard.objects.filter(pk=down.shard.pk).update(enabled=False)

    fan_out = wait_for_fan_out(fan_out.pk, timeout=60)
    assert len(down.received) == 1, "nothing more after it was disabled"
    row = ShardDelivery.objects.get(fan_out=fan_out, shard=down.shard)
    assert row.status == "skipped" and row.error_in_brief == "shard disabled"
    assert fan_out.status == FanOut.Status.APPLIED and fan_out.summary == "1 of 2 shards applied, 1 skipped"


def test_retry_failed_shards_leaves_a_disabled_shard_out(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    refusing = shard_peers(1, lambda snapshot, n: 400)
    start_worker(env=WORKER_ENV)
    with transaction.atomic():
        fan_out, _created = services.branding_save(guild=world["mine"], user=world["admin"], display_name="Mine")
    fan_out = wait_for_fan_out(fan_out.pk, timeout=60)
    assert fan_out.status == FanOut.Status.FAILED
    BotShard.objects.filter(pk=refusing.shard.pk).update(enabled=False)
    with pytest.raises(services.JobError) as refused:
        services.fan_out_retry_failed(fan_out=fan_out)
    assert refused.value.code == "conflict" and "no enabled shard failed" in refused.value.message
    assert len(refusing.received) == 1
