"""A shard is someone else's server: an answer whose body holds a NUL byte, or bytes that decode to half
a surrogate pair, is recorded on the delivery (the text made storable) and the fan-out reaches its
outcome; writing that answer as it was failed the delivery's own record, every attempt. (A webhook
attempt's error goes through the same ``project.text.storable``.)"""

import pytest
from django.db import transaction
from werkzeug.wrappers import Response

from branding import services
from branding.models import FanOut, ShardDelivery
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_shard_answering_a_nul_is_failed_with_its_answer_recorded(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    shard_peers(1, lambda snapshot, n: Response(b"bad \x00 state \xed\xa0\x80 here", status=400))
    shard_peers(2)
    start_worker(env=WORKER_ENV)
    with transaction.atomic():
        fan_out, _created = services.branding_save(guild=world["mine"], user=world["admin"], display_name="Mine")
    fan_out = wait_for_fan_out(fan_out.pk)

    rows = {d.shard.shard_id: d for d in ShardDelivery.objects.filter(fan_out=fan_out).select_related("shard")}
    assert (rows[1].status, rows[1].last_http_status) == ("failed", 400)
    assert rows[1].error.startswith("HTTP 400: bad \ufffd state") and "\x00" not in rows[1].error
    assert rows[2].status == "applied"
    assert fan_out.status == FanOut.Status.FAILED and fan_out.summary == "1 of 2 shards applied, 1 failed"
