"""A shard that refused a save (a 4xx: failed at once, no retries) and is fixed later: a staff retry of
that one child job from the jobs admin sends it again, and the fan-out's outcome follows (applied),
although its batch had completed before; so does its parent job (dead, then succeeded)."""

import pytest
from django.db import transaction

from branding import services
from branding.models import FanOut, ShardDelivery
from jobs import services as job_services
from jobs.connection import get_queue
from jobs.models import JobRecord, Status
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_staff_retry_of_a_failed_shards_job_completes_the_fan_out(world, shard_peers, start_worker,
                                                                     staff_user):
    broken = {"on": True}
    peer = shard_peers(1, lambda snapshot, n: 400 if broken["on"] else "ok")
    start_worker(env=WORKER_ENV)
    with transaction.atomic():
        fan_out, _ = services.branding_save(guild=world["mine"], user=world["admin"], footer_text="hello")
    fan_out = wait_for_fan_out(fan_out.pk)
    row = ShardDelivery.objects.get(fan_out=fan_out)
    assert fan_out.status == "failed" and (row.status, row.attempts, row.last_http_status) == ("failed", 1, 400)
    job = JobRecord.objects.get(pk=row.job_id)
    assert job.status == Status.DEAD and job.attempts == 1, "a 4xx is not retried"
    wait_for(lambda: JobRecord.objects.get(pk=fan_out.job_id).status == Status.DEAD, timeout=30,
             message="the parent job to end dead with its shard")
    failed = get_queue(job.queue).failed_job_registry
    wait_for(lambda: str(job.pk) in failed.get_job_ids(), timeout=10, message="RQ to have filed its run")

    broken["on"] = False
    assert job_services.retry_job(job, actor=staff_user)
    wait_for(lambda: FanOut.objects.get(pk=fan_out.pk).status == "applied", timeout=30,
             message="the fan-out to be applied after the staff retry")
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_http_status) == ("applied", 2, 200)
    assert peer.held == {world["mine"].pk: 1}
    assert FanOut.objects.get(pk=fan_out.pk).summary == "1 of 1 shards applied"
    # The fan-out's parent job, dead since the shard refused, follows: it ends succeeded, sending nothing more.
    wait_for(lambda: JobRecord.objects.get(pk=fan_out.job_id).status == Status.SUCCEEDED, timeout=30,
             message="the parent job to follow the fan-out to succeeded")
    assert len(peer.received) == 2
