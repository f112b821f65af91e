"""A newer save supersedes an older fan-out that has not finished, and no shard ever ends with older
settings than a newer save sent it, whatever the order in which retries land:
- the older fan-out's children that have not run (waiting out a retry) are canceled with the reason;
- an older request that reaches a shard after the newer one is refused by the shard's version check
  (409, recorded as superseded);
- an older child run again after the newer version was applied sends nothing (recorded as superseded)."""

import threading

import pytest
from django.db import transaction

from branding import services
from branding.models import FanOut, ShardDelivery
from jobs import rq_internals
from jobs import services as job_services
from jobs.models import JobRecord, Status
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def save(world, **values):
    with transaction.atomic():
        fan_out, _ = services.branding_save(guild=world["mine"], user=world["admin"], **values)
    return fan_out


def delivery(fan_out, peer):
    row = ShardDelivery.objects.select_related("job").filter(fan_out=fan_out, shard=peer.shard).first()
    return row or ShardDelivery(status="(not yet)")


def test_children_of_an_older_fan_out_waiting_to_retry_are_canceled(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    # Version 1 always fails at this shard; version 2 is taken.
    peer = shard_peers(1, lambda snapshot, n: 503 if snapshot["version"] == 1 else "ok")
    start_worker(env={**WORKER_ENV, "BRANDING_RETRY_DELAY": "3"})

    old = save(world, color="#111111")
    wait_for(lambda: delivery(old, peer).status == "retrying" and delivery(old, peer).job.status == Status.RETRYING,
             timeout=30, message="version 1 waiting to retry at the shard")

    new = save(world, color="#222222")
    old_row = delivery(old, peer)
    assert old_row.status == "superseded" and old_row.error == "superseded by branding version 2"
    assert old_row.job.status == Status.CANCELED
    assert old_row.job.status_note["reason"] == "superseded by branding version 2"
    assert FanOut.objects.get(pk=old.pk).status == FanOut.Status.SUPERSEDED
    old_parent = JobRecord.objects.get(pk=old.job_id)
    assert old_parent.status == Status.CANCELED, "the superseded fan-out's parent job is canceled"
    assert old_parent.status_note["reason"] == "superseded by branding version 2"

    new = wait_for_fan_out(new.pk)
    assert new.status == "applied" and delivery(new, peer).status == "applied"
    assert peer.held == {world["mine"].pk: 2}
    received = peer.versions_received()
    assert received[-1] == 2 and 1 not in received[received.index(2):], "nothing older after the newer one"
    # The canceled child never ran again.
    assert JobRecord.objects.get(pk=old_row.job_id).attempts == 1


def test_an_older_request_landing_after_the_newer_one_does_not_roll_the_shard_back(
        world, shard_peers, start_worker, settings, clean_redis):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    gate = threading.Event()
    # Version 1's request is held by the shard until version 2 has been applied there.
    peer = shard_peers(1, lambda snapshot, n: gate if snapshot["version"] == 1 else "ok")
    env = {**WORKER_ENV, "BRANDING_SHARD_TIMEOUT": "20"}
    start_worker(env=env), start_worker(env=env)

    old = save(world, display_name="old")
    wait_for(lambda: peer.versions_received() == [1], timeout=30, message="version 1 to reach the shard")
    new = save(world, display_name="new")
    new = wait_for_fan_out(new.pk, timeout=40)
    assert new.status == "applied" and peer.held == {world["mine"].pk: 2}
    gate.set()  # version 1 lands now, after version 2

    wait_for(lambda: delivery(old, peer).status == "superseded", timeout=30, message="version 1 recorded superseded")
    row = delivery(old, peer)
    assert row.last_http_status == 409 and "newer" in row.error
    assert peer.held == {world["mine"].pk: 2} and peer.history == [2]
    assert FanOut.objects.get(pk=old.pk).status == FanOut.Status.SUPERSEDED

    # A staff retry of the older child (a retry landing late) sends nothing and records why.
    sent = len(peer.versions_received())
    # (once its first run is over in RQ too: its job key is gone)
    wait_for(lambda: JobRecord.objects.get(pk=row.job_id).status == Status.SUCCEEDED
             and not clean_redis.exists(rq_internals.job_key(str(row.job_id))), timeout=30,
             message="version 1's child to have ended")
    assert job_services.retry_job(JobRecord.objects.get(pk=row.job_id), reason="late retry")
    wait_for(lambda: JobRecord.objects.get(pk=row.job_id).status == Status.SUCCEEDED, timeout=30,
             message="the late retry to end")
    assert len(peer.versions_received()) == sent, "an older version is not sent to a shard that holds a newer one"
    assert JobRecord.objects.get(pk=row.job_id).result["status"] in ("superseded",)
    assert peer.held == {world["mine"].pk: 2}
    # And retrying the superseded fan-out is refused.
    with pytest.raises(services.JobError) as refused:
        services.fan_out_retry_failed(fan_out=old)
    assert refused.value.code == "conflict"
