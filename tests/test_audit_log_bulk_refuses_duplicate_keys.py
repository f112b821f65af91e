"""Two events with the same key in one ``audit.log_bulk`` are refused at enqueue, naming the second
event's key, and nothing is written; should such a batch reach the writer anyway, it fails once, for good
(a PermanentError), instead of being retried five times."""

import pytest

from audit import services
from audit.models import AuditEvent
from jobs.enqueue import enqueue
from jobs.errors import JobError, PermanentError
from jobs.models import JobRecord


def event(key, resource_id):
    return {"action": "bot.command_used", "resource_type": "command", "resource_id": resource_id, "key": key}


@pytest.mark.django_db
def test_a_duplicate_key_is_refused_at_enqueue_naming_the_field():
    with pytest.raises(JobError) as refused:
        enqueue("audit.log_bulk", {"events": [event("dup-A", "1"), event("other", "2"), event("dup-A", "3")]})
    assert refused.value.field == "payload.events.2.key"
    assert str(refused.value) == 'payload.events.2.key: the key "dup-A" is already used by event 0'
    assert not JobRecord.objects.filter(job_type="audit.log_bulk").exists()


@pytest.mark.django_db
def test_distinct_keys_and_events_without_keys_are_accepted():
    record = enqueue("audit.log_bulk", {"events": [event("a", "1"), event(None, "2"), event(None, "3"),
                                                   event("b", "4")]})
    assert record.job_type == "audit.log_bulk"


@pytest.mark.django_db
def test_the_run_time_guard_is_permanent():
    rows = [{"action": "bot.command_used", "resource_type": "command", "resource_id": str(i), "guild_id": None,
             "data": {}, "event_key": "key:same"} for i in range(2)]
    with pytest.raises(PermanentError, match="every event needs its own key"):
        services.audit_events_insert(events=rows)
    assert not AuditEvent.objects.filter(event_key="key:same").exists()
