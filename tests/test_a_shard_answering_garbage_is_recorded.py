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


def test_a_shard_answering_bytes_that_are_not_http_fails_on_its_last_attempt_with_an_audit_event(
        world, shard_peers, start_worker, settings):
    """The last attempt's outcome is recorded and audited too (the audit event's jsonb refused the NUL,
    and the SQL error became the job's last error)."""
    import socket
    import threading

    from audit.models import AuditEvent
    from branding.models import BotShard
    from jobs.models import JobRecord

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)

    def serve():
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(b"\x00\xffGARBAGE NOT HTTP\r\n\r\n")
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        shard = BotShard.objects.create(shard_id=9, base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/",
                                        signing_secret="garbage-shard-secret-0123")
        start_worker(env=WORKER_ENV)
        with transaction.atomic():
            fan_out, _created = services.branding_save(guild=world["mine"], user=world["admin"], display_name="G")
        fan_out = wait_for_fan_out(fan_out.pk, timeout=60)
    finally:
        listener.close()

    row = ShardDelivery.objects.select_related("job").get(fan_out=fan_out, shard=shard)
    assert row.status == "failed" and row.attempts == int(WORKER_ENV["BRANDING_MAX_ATTEMPTS"])
    assert row.error.startswith("no answer") and "\x00" not in row.error
    job = JobRecord.objects.get(pk=row.job_id)
    assert "Unicode" not in (job.last_error or "") and "no answer" in (job.last_error or "")
    event = AuditEvent.objects.get(action="branding.shard_failed", resource_id=str(row.pk))
    assert event.data["error"].startswith("no answer") and "\x00" not in event.data["error"]
    assert fan_out.status == FanOut.Status.FAILED
