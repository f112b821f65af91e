"""Product code hands the audit log many events at once: ``audit.log_bulk`` writes them with one INSERT,
and a job that runs twice (a retry, a crash) or a second job with the same event keys writes nothing
new. ``audit.log_event`` does the same for one event. Both are internal: nobody enqueues them by hand."""

from types import SimpleNamespace
from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.tasks import LogBulk, log_bulk
from jobs import registry
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import JobRecord, Status
from jobs.services import retry_job
from project import correlation
from tests.conftest import wait_for


def ctx(**overrides):
    return SimpleNamespace(**{"record_id": uuid4(), "actor_id": None, "guild_id": None,
                              "correlation_id": "cid-bulk-direct-01", "attempt": 1, **overrides})


def events(count, prefix="bulk"):
    return [{"action": "bot.command_used", "resource_type": "command", "resource_id": f"{prefix}-{i}",
             "data": {"n": i}} for i in range(count)]


@pytest.mark.django_db
def test_log_bulk_writes_n_events_with_one_insert_and_a_rerun_writes_none(world):
    job_ctx = ctx(guild_id=world["mine"].pk, actor_id=world["admin"].pk)
    payload = LogBulk.model_validate({"events": events(500)})
    with CaptureQueriesContext(connection) as queries:
        assert log_bulk(payload, job_ctx) == {"events": 500, "written": 500}
    inserts = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "audit_auditevent" in inserts[0] and "ON CONFLICT" in inserts[0]

    assert AuditEvent.objects.filter(action="bot.command_used").count() == 500
    event = AuditEvent.objects.get(resource_id="bulk-7")
    assert (event.guild_id, event.actor_id, event.correlation_id, event.data) == (
        world["mine"].pk, world["admin"].pk, "cid-bulk-direct-01", {"n": 7})

    assert log_bulk(payload, job_ctx) == {"events": 500, "written": 0}, "the same job again"
    assert AuditEvent.objects.filter(action="bot.command_used").count() == 500


@pytest.mark.django_db
def test_keys_of_the_caller_make_two_jobs_write_an_event_once():
    keyed = [{**event, "key": f"delivery-{i}"} for i, event in enumerate(events(3, "keyed"))]
    assert log_bulk(LogBulk.model_validate({"events": keyed}), ctx())["written"] == 3
    more = keyed[1:] + [{**events(1, "late")[0], "key": "delivery-9"}]
    assert log_bulk(LogBulk.model_validate({"events": more}), ctx())["written"] == 1, "another job, same keys"
    assert sorted(AuditEvent.objects.filter(resource_type="command").values_list("resource_id", flat=True)) == [
        "keyed-0", "keyed-1", "keyed-2", "late-0"]


@pytest.mark.django_db
@pytest.mark.parametrize("payload, field", [
    ({"events": []}, "payload.events"),
    ({"events": events(1001)}, "payload.events"),
    ({"events": [{"action": "Not Dotted", "resource_type": "r", "resource_id": "1"}]}, "payload.events.0.action"),
    ({"events": [{"action": "a.b", "resource_type": "", "resource_id": "1"}]}, "payload.events.0.resource_type"),
    ({"events": [{"action": "a.b", "resource_type": "r", "resource_id": "1", "data": {"x": "y" * 9000}}]},
     "payload.events.0.data"),
])
def test_a_bad_payload_is_refused_naming_the_field(payload, field):
    with pytest.raises(JobError) as refused:
        enqueue("audit.log_bulk", payload)
    assert refused.value.field == field, refused.value.message
    assert not JobRecord.objects.filter(job_type="audit.log_bulk").exists()


def test_both_types_are_internal():
    for name in ("audit.log_event", "audit.log_bulk", "audit.report"):
        assert registry.get(name).enqueue_permission is None


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_them_and_a_retried_job_does_not_duplicate(world, start_worker):
    with correlation.bind("cid-bulk-worker-0001"):
        bulk = enqueue("audit.log_bulk", {"events": events(200, "w")}, actor=world["admin"], guild=world["mine"])
        single = enqueue("audit.log_event", {"action": "webhook.delivered", "resource_type": "webhook",
                                             "resource_id": "hook-1", "data": {"status": 200}}, guild=world["mine"])
    start_worker("jdtest.audit")
    done = lambda: JobRecord.objects.filter(pk__in=[bulk.pk, single.pk], status=Status.SUCCEEDED).count() == 2
    wait_for(done, timeout=30, message="both audit jobs")
    assert JobRecord.objects.get(pk=bulk.pk).result == {"events": 200, "written": 200}
    assert AuditEvent.objects.filter(resource_type="command", correlation_id="cid-bulk-worker-0001",
                                     guild=world["mine"], actor=world["admin"]).count() == 200
    assert AuditEvent.objects.filter(action="webhook.delivered", guild=world["mine"]).count() == 1

    for record in (bulk, single):  # each runs a second time: same job, same keys
        assert retry_job(JobRecord.objects.get(pk=record.pk), actor=world["staff"])
    wait_for(lambda: JobRecord.objects.filter(pk=bulk.pk, status=Status.SUCCEEDED, attempts=2).exists()
             and JobRecord.objects.filter(pk=single.pk, status=Status.SUCCEEDED, attempts=2).exists(),
             timeout=30, message="the second runs")
    assert JobRecord.objects.get(pk=bulk.pk).result == {"events": 200, "written": 0}
    assert AuditEvent.objects.filter(resource_type="command").count() == 200
    assert AuditEvent.objects.filter(action="webhook.delivered").count() == 1


@pytest.mark.django_db
def test_an_unknown_guild_is_a_permanent_error():
    from jobs.errors import PermanentError

    with pytest.raises(PermanentError):
        log_bulk(LogBulk.model_validate({"events": [{**events(1)[0], "guild_id": 987654}]}), ctx())
    assert not AuditEvent.objects.filter(resource_type="command").exists()
