"""The fan-out's parent job is what staff see in the jobs admin and what GET /api/jobs/<id> answers: its
status and progress follow its children (one per shard), through real workers and real HTTP shards.

- While shards are still being sent, the parent waits (``retrying``, not holding a worker) and its
  progress moves as each shard ends ("1 of 2 shards applied, 1 sending").
- When every shard has applied the version it ends succeeded; when a shard ended failed it ends dead with
  an error naming that shard; a newer save that supersedes it cancels it.
- A staff member retrying the dead parent from the jobs admin retries only the failed shard: the shard
  that applied is not sent it again, and the parent then ends succeeded.
"""

import threading

import pytest
from django.db import transaction
from django.test import Client

from branding import services
from branding.models import FanOut, ShardDelivery
from jobs.models import JobAttempt, JobRecord, Status
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)
from tests.conftest import OPERATORS, VIEWERS, make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def parent_of(fan_out):
    return JobRecord.objects.get(pk=fan_out.job_id)


def wait_for_parent(fan_out, status, timeout=40):
    return wait_for(lambda: (lambda p: p if p.status == status else None)(parent_of(fan_out)), timeout=timeout,
                    interval=0.2, message=f"the fan-out's parent job to be {status}")


def test_the_parent_waits_for_its_shards_and_ends_dead_naming_the_failed_one_then_a_staff_retry_retries_only_it(
        world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    gate = threading.Event()
    good = shard_peers(1, lambda snapshot, n: "ok")
    refusing = {"on": True}
    # Shard 2 holds version 1 until released, then applies it; it refuses version 2 (400) until fixed.
    held = shard_peers(2, lambda snapshot, n: gate if snapshot["version"] == 1 else (400 if refusing["on"] else "ok"))
    start_worker(env={**WORKER_ENV, "BRANDING_SHARD_TIMEOUT": "20"})

    with transaction.atomic():
        fan_out, _ = services.branding_save(guild=world["mine"], user=world["admin"], footer_text="v1")

    # Shard 1 applied, shard 2 holds its request: the parent waits, without a worker, its progress at 50%.
    wait_for(lambda: ShardDelivery.objects.filter(fan_out=fan_out, shard=good.shard, status="applied").exists(), timeout=30,
             message="shard 1 to apply")
    parent = wait_for(lambda: (lambda p: p if p.progress_message == "1 of 2 shards applied, 1 sending" else None)(
        parent_of(fan_out)), timeout=20, message="the parent's progress to count shard 1")
    assert parent.status == Status.RETRYING and parent.progress == 50
    assert parent.status_note["reason"].startswith("sent to 2 shard(s)")
    first = JobAttempt.objects.get(record=parent, number=1)
    assert first.outcome == "succeeded", "waiting for the shards is not a failure"

    gate.set()
    fan_out = wait_for_fan_out(fan_out.pk)
    assert fan_out.status == "applied", "the held request applied once released"
    parent = wait_for_parent(fan_out, Status.SUCCEEDED)
    assert parent.progress == 100 and parent.result["summary"] == "2 of 2 shards applied"
    assert parent.attempts == 2 and parent.attempts <= parent.max_attempts

    # A second save: shard 2 refuses it (400, not retried): the parent ends dead, naming shard 2.
    with transaction.atomic():
        second, _ = services.branding_save(guild=world["mine"], user=world["admin"], footer_text="v2")
    second = wait_for_fan_out(second.pk)
    assert second.status == "failed"
    parent = wait_for_parent(second, Status.DEAD)
    assert "1 of 2 shards failed: shard 2 (HTTP 400" in parent.last_error, parent.last_error
    assert parent.last_error_type == "jobs.errors.PermanentError"
    assert parent.progress == 100 and parent.progress_message == "1 of 2 shards applied, 1 failed"
    assert FanOut.objects.get(pk=second.pk).awaiting is False

    # A staff operator retries the dead parent from the jobs admin: only shard 2 is sent it again.
    refusing["on"] = False
    sent_to_good, sent_to_held = len(good.received), len(held.received)
    operator = make_staff("fan-out-operator", OPERATORS)
    client = Client()
    client.force_login(operator)
    response = client.post("/admin/jobs/jobrecord/", {"action": "retry_selected", "_selected_action": [str(parent.pk)],
                                                      "index": "0"})
    assert response.status_code == 302
    parent = wait_for_parent(second, Status.SUCCEEDED)
    assert FanOut.objects.get(pk=second.pk).status == "applied"
    assert len(good.received) == sent_to_good, "the shard that applied is not sent it again"
    assert len(held.received) == sent_to_held + 1 and held.held == {world["mine"].pk: 2}
    assert parent.progress == 100 and parent.result["summary"] == "2 of 2 shards applied"


def test_a_viewer_cannot_retry_the_parent(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    shard_peers(1, lambda snapshot, n: 400)
    start_worker(env=WORKER_ENV)
    with transaction.atomic():
        fan_out, _ = services.branding_save(guild=world["mine"], user=world["admin"], footer_text="x")
    parent = wait_for_parent(fan_out, Status.DEAD)
    viewer = make_staff("fan-out-viewer", VIEWERS)
    client = Client()
    client.force_login(viewer)
    client.post("/admin/jobs/jobrecord/", {"action": "retry_selected", "_selected_action": [str(parent.pk)],
                                           "index": "0"})
    assert parent_of(fan_out).status == Status.DEAD and parent_of(fan_out).attempts == parent.attempts


def test_a_superseded_fan_outs_parent_ends_canceled(world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    gate = threading.Event()
    peer = shard_peers(1, lambda snapshot, n: gate if snapshot["version"] == 1 else "ok")
    env = {**WORKER_ENV, "BRANDING_SHARD_TIMEOUT": "20"}
    start_worker(env=env), start_worker(env=env)
    with transaction.atomic():
        old, _ = services.branding_save(guild=world["mine"], user=world["admin"], display_name="old")
    wait_for(lambda: peer.versions_received() == [1], timeout=30, message="version 1 to reach the shard")
    with transaction.atomic():
        new, _ = services.branding_save(guild=world["mine"], user=world["admin"], display_name="new")
    old_parent = wait_for_parent(old, Status.CANCELED)
    assert "superseded by branding version 2" in old_parent.status_note["reason"]
    gate.set()
    wait_for_parent(new, Status.SUCCEEDED)
    assert parent_of(old).status == Status.CANCELED, "the late answer to version 1 does not revive its parent"
