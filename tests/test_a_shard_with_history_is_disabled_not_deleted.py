"""A shard that was sent a fan-out keeps its deliveries (the fan-outs' history): the admin refuses to
delete it and tells staff to disable it instead, and the database refuses too (PROTECT). A child job
whose delivery is gone (its fan-out deleted) ends quietly instead of dying."""

import pytest
from django.db.models import ProtectedError

from branding import tasks
from branding.models import BotShard, FanOut, ShardDelivery

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_shard_with_deliveries_is_not_deleted(world, client, staff_user):
    shard = BotShard.objects.create(shard_id=7, base_url="https://shard7.example.com/", signing_secret="s" * 20)
    fan_out = FanOut.objects.create(guild=world["mine"], version=1, snapshot={"version": 1})
    ShardDelivery.objects.create(fan_out=fan_out, shard=shard, status="applied")
    client.force_login(staff_user)

    page = client.post(f"/admin/branding/botshard/{shard.pk}/delete/", {"post": "yes"}, follow=True)
    assert "Shard 7 was not deleted" in page.content.decode() and "Disable it instead" in page.content.decode()
    assert BotShard.objects.filter(pk=shard.pk).exists() and ShardDelivery.objects.filter(shard=shard).count() == 1
    with pytest.raises(ProtectedError):
        shard.delete()


def test_a_shard_never_sent_anything_can_be_deleted(client, staff_user):
    shard = BotShard.objects.create(shard_id=8, base_url="https://shard8.example.com/", signing_secret="s" * 20)
    client.force_login(staff_user)
    client.post(f"/admin/branding/botshard/{shard.pk}/delete/", {"post": "yes"})
    assert not BotShard.objects.filter(pk=shard.pk).exists()


def test_a_child_whose_delivery_is_gone_ends_quietly():
    assert tasks.apply_to_shard(tasks.DeliveryIn(delivery_id=987654), None) == {"skipped": "delivery 987654 is gone"}
