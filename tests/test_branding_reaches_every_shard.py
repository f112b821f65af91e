"""A branding save reaches every enabled shard of the bot through real workers and real HTTP peers: a
shard that answers 500 twice gets it on the third attempt, a shard that never answers in time is failed
after its attempts, a healthy one at once; every request is signed (HMAC-SHA256, verified by the peer
with notifications.signing.verify); the parent job's progress and the fan-out say "2 of 3 shards
applied, 1 failed" and the parent is dead naming shard 2; "retry failed shards" sends again only to the
failed shard, and the parent then succeeds."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from branding import services
from branding.models import FanOut, ShardDelivery
from jobs.models import JobRecord, Status
from notifications.signing import SignatureError, sign, verify
from tests.branding_fixtures import WORKER_ENV, shard_peers, wait_for_fan_out  # noqa: F401 (fixture)
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_three_shards_get_the_right_outcomes_and_only_the_failed_one_is_retried(
        world, shard_peers, start_worker, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    flaky = shard_peers(1, lambda snapshot, n: 500 if n < 2 else "ok")
    stalled = {"on": True}
    slow = shard_peers(2, lambda snapshot, n: ("sleep", 2.5) if stalled["on"] else "ok")
    healthy = shard_peers(3)
    start_worker(env=WORKER_ENV)

    with transaction.atomic():
        fan_out, created = services.branding_save(guild=world["mine"], user=world["admin"], display_name="Mine bot",
                                                  color="#5865F2", footer_text="by Mine",
                                                  icon_url="https://cdn.example.com/i.png")
    assert created and fan_out.version == 1 and fan_out.job.job_type == "branding.fan_out"
    fan_out = wait_for_fan_out(fan_out.pk)

    rows = {d.shard.shard_id: d for d in ShardDelivery.objects.filter(fan_out=fan_out).select_related("shard")}
    assert (rows[1].status, rows[1].attempts, rows[1].last_http_status) == ("applied", 3, 200)
    assert (rows[2].status, rows[2].attempts, rows[2].last_http_status) == ("failed", 3, None)
    assert "no answer" in rows[2].error and "timed out" in rows[2].error.lower()
    assert (rows[3].status, rows[3].attempts, rows[3].last_http_status) == ("applied", 1, 200)
    assert fan_out.status == FanOut.Status.FAILED
    assert fan_out.summary == "2 of 3 shards applied, 1 failed"
    # The parent job follows its children: dead, its error naming the shard that failed.
    parent = wait_for(lambda: (lambda p: p if p.status == Status.DEAD else None)(JobRecord.objects.get(pk=fan_out.job_id)),
                      timeout=20, message="the parent job to end dead")
    assert parent.progress == 100 and parent.progress_message == "2 of 3 shards applied, 1 failed"
    assert parent.last_error.startswith("1 of 3 shards failed: shard 2 (no answer"), parent.last_error
    children = JobRecord.objects.filter(parent=parent, job_type="branding.apply_to_shard")
    assert sorted(c.status for c in children) == ["dead", "succeeded", "succeeded"]
    # The guild's members read these errors: they name the shard, not its address (the admin has that).
    [dead_child] = [c for c in children if c.status == "dead"]
    assert dead_child.last_error == "shard 2: no answer" and "127.0.0.1" not in parent.last_error

    # Every request was signed with its shard's secret, carried the snapshot's version and the save's
    # correlation ID; a wrong secret does not verify.
    assert flaky.received == [(1, True, fan_out.correlation_id)] * 3
    assert healthy.received == [(1, True, fan_out.correlation_id)]
    assert all(ok for _v, ok, _c in slow.received) and len(slow.received) == 3
    assert flaky.held == {world["mine"].pk: 1} and healthy.held == {world["mine"].pk: 1} and slow.held == {}
    headers = sign("shard-secret-3-0123456789", b'{"version":1}')
    verify("shard-secret-3-0123456789", headers, b'{"version":1}')
    with pytest.raises(SignatureError):
        verify("another-secret-0123456789", headers, b'{"version":1}')

    actions = list(AuditEvent.objects.filter(guild=world["mine"]).values_list("action", flat=True))
    assert actions.count("branding.saved") == 1
    assert actions.count("branding.shard_applied") == 2 and actions.count("branding.shard_failed") == 1
    assert actions.count("branding.fan_out_failed") == 1

    # Retry failed shards: only shard 2 is sent the snapshot again.
    stalled["on"] = False
    services.fan_out_retry_failed(fan_out=fan_out, actor=world["admin"])
    fan_out = wait_for_fan_out(fan_out.pk, statuses=("applied",))
    assert fan_out.summary == "3 of 3 shards applied"
    assert len(flaky.received) == 3 and len(healthy.received) == 1, "applied shards are not sent it again"
    assert len(slow.received) == 4 and slow.held == {world["mine"].pk: 1}
    assert ShardDelivery.objects.get(fan_out=fan_out, shard=slow.shard).status == "applied"
    wait_for(lambda: JobRecord.objects.get(pk=fan_out.job_id).progress_message == "3 of 3 shards applied",
             message="the parent's progress to say all applied")
    assert AuditEvent.objects.filter(action="branding.retry_failed_shards", actor=world["admin"]).count() == 1

    # Nothing is left to retry now: refused, nothing enqueued.
    before = JobRecord.objects.count()
    with pytest.raises(services.JobError):
        services.fan_out_retry_failed(fan_out=fan_out, actor=world["admin"])
    assert JobRecord.objects.count() == before
    wait_for(lambda: JobRecord.objects.get(pk=fan_out.job_id).status == Status.SUCCEEDED, timeout=20,
             message="the parent job to follow its shards to succeeded")
