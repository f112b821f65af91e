"""A paused queue still accepts jobs; workers take nothing from it until it is resumed."""

import time

import pytest

from jobs import queues
from jobs.connection import all_queue_names
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_takes_nothing_from_a_paused_queue_until_it_is_resumed(start_worker, staff_user):
    first = enqueue("test.sleep", {"marker": "before", "seconds": 0})
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=first.pk, status=Status.SUCCEEDED).exists(), timeout=20)

    assert queues.queue_pause(first.queue, actor=staff_user)
    time.sleep(queues.PAUSE_POLL + 0.5)  # the idle worker looks at the paused set again
    held = [enqueue("test.sleep", {"marker": f"held{i}", "seconds": 0}) for i in range(3)]
    other = enqueue("test.sleep", {"marker": "high", "seconds": 0}, priority="high")  # another queue
    assert all(r.status == Status.QUEUED for r in held), "enqueue is accepted while paused"

    wait_for(lambda: JobRecord.objects.filter(pk=other.pk, status=Status.SUCCEEDED).exists(), timeout=20)
    time.sleep(queues.PAUSE_POLL + 1)
    assert JobRecord.objects.filter(pk__in=[r.pk for r in held], status=Status.QUEUED).count() == 3

    assert queues.queue_resume(first.queue, actor=staff_user)
    wait_for(lambda: JobRecord.objects.filter(pk__in=[r.pk for r in held], status=Status.SUCCEEDED).count() == 3,
             timeout=20)


def test_pause_and_resume_are_audited_and_idempotent(staff_user):
    from audit.models import AuditEvent

    name = next(iter(all_queue_names()))
    assert queues.queue_pause(name, actor=staff_user)
    assert not queues.queue_pause(name, actor=staff_user)
    assert name in queues.paused_queue_names()
    assert queues.queue_resume(name, actor=staff_user)
    assert list(AuditEvent.objects.filter(resource_id=name).values_list("action", "actor")) in (
        [("queue.resumed", staff_user.pk), ("queue.paused", staff_user.pk)],
        [("queue.paused", staff_user.pk), ("queue.resumed", staff_user.pk)],
    )
    with pytest.raises(JobError):
        queues.queue_pause("no-such-queue", actor=staff_user)
