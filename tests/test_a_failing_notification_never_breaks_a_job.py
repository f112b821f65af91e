"""Notifications react to jobs inside the job's own transaction; when that reaction fails (here: the
dead-letter note cannot be written), the job's change still commits and the failure is logged."""

import pytest
from django.db import transaction

from jobs import runner
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from notifications import services
from notifications.models import DeadLetterNote

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_still_goes_dead_when_noting_it_fails(monkeypatch, caplog):
    def broken(*, change):
        DeadLetterNote.objects.create(record_id=change.record_id, job_type=change.job_type, dead_at=None)  # NOT NULL

    monkeypatch.setattr(services, "job_dead", broken)
    with transaction.atomic():
        record = enqueue("test.permanent", {"marker": "noted"})
    with pytest.raises(runner.JobDied):
        runner._claim_and_run(record.pk)
    record.refresh_from_db()
    assert record.status == Status.DEAD and record.attempts == 1
    assert not DeadLetterNote.objects.exists()
    assert "notifications: reacting to job" in caplog.text


def test_without_the_failure_it_is_noted():
    with transaction.atomic():
        record = enqueue("test.permanent", {"marker": "noted"})
    with pytest.raises(runner.JobDied):
        runner._claim_and_run(record.pk)
    assert DeadLetterNote.objects.get().record_id == record.pk
