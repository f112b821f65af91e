"""A shard that applied a version but answered after the timeout answers the retry 409 with the version
it holds (``{"held": v}``): that delivery is applied, not superseded, and the fan-out says every shard
applied. An older shard's 409 without ``held`` counts as applied too while no newer save exists."""

import json
import time

import pytest
from django.db import transaction
from werkzeug.wrappers import Response

from audit.models import AuditEvent
from branding import services
from branding.models import FanOut, ShardDelivery
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def late_then_409(with_held):
    def script(snapshot, n):
        if n == 0:
            time.sleep(1.5)  # "applies" it, then answers after BRANDING_SHARD_TIMEOUT (1 s)
            return Response("late", status=200)
        body = json.dumps({"held": snapshot["version"]}) if with_held else ""
        return Response(body, status=409, content_type="application/json")
    return script


def test_a_409_for_the_version_sent_is_applied(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    shard_peers(1, late_then_409(with_held=True))
    shard_peers(2, late_then_409(with_held=False))  # an older shard: no "held" in its 409
    shard_peers(3)
    start_worker(env=WORKER_ENV)
    with transaction.atomic():
        fan_out, _created = services.branding_save(guild=world["mine"], user=world["admin"], display_name="Mine")
    fan_out = wait_for_fan_out(fan_out.pk, timeout=60)

    rows = {d.shard.shard_id: d for d in ShardDelivery.objects.filter(fan_out=fan_out).select_related("shard")}
    assert [(rows[n].status, rows[n].last_http_status) for n in (1, 2)] == [("applied", 409)] * 2
    assert fan_out.status == FanOut.Status.APPLIED and fan_out.summary == "3 of 3 shards applied"
    assert not AuditEvent.objects.filter(action="branding.shard_superseded").exists()
    assert AuditEvent.objects.filter(action="branding.shard_applied").count() == 3


def test_a_409_holding_a_newer_version_or_without_one_after_a_newer_save_is_superseded(world):
    with transaction.atomic():
        old, _ = services.branding_save(guild=world["mine"], user=world["admin"], display_name="v1")
    delivery = ShardDelivery(fan_out=old)
    assert services.delivery_conflict_outcome(delivery, b'{"held": 1}')[0] == "applied"
    assert services.delivery_conflict_outcome(delivery, b"")[0] == "applied"
    status, error = services.delivery_conflict_outcome(delivery, b'{"held": 3}')
    assert status == "superseded" and "newer version 3" in error
    with transaction.atomic():
        services.branding_save(guild=world["mine"], user=world["admin"], display_name="v2")
    assert services.delivery_conflict_outcome(delivery, b"not json")[0] == "superseded"
    assert services.delivery_conflict_outcome(delivery, b'{"held": 1}')[0] == "applied"
