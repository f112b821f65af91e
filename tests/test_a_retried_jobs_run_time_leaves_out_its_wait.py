"""A job that a staff member retried days after it went dead ran for seconds, not days: the job page and
the job list give the last attempt's run time and the attempts' run times added up ("run time over N
attempts"), never the time from its first start to its end, which counts the time it sat dead."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Outcome, Status

pytestmark = pytest.mark.django_db

JOBS = "/admin/jobs/jobrecord/"


def test_the_total_is_the_attempts_run_time_not_the_days_it_sat_dead(client, staff_user):
    record = enqueue("test.always_fails", {"marker": "late-retry"})
    first = timezone.now() - timedelta(days=2)
    retried = timezone.now() - timedelta(seconds=10)
    JobAttempt.objects.create(record=record, number=1, queue=record.queue, correlation_id=record.correlation_id,
                              started_at=first, ended_at=first + timedelta(seconds=85.359), outcome=Outcome.FAILED)
    JobAttempt.objects.create(record=record, number=2, queue=record.queue, correlation_id=record.correlation_id,
                              started_at=retried, ended_at=retried + timedelta(seconds=0.011),
                              outcome=Outcome.SUCCEEDED)
    JobRecord.objects.filter(pk=record.pk).update(status=Status.SUCCEEDED, attempts=2, started_at=first,
                                                  succeeded_at=retried + timedelta(seconds=0.011))
    client.force_login(staff_user)

    page = client.get(f"{JOBS}{record.pk}/change/").content.decode()
    assert "0.011 s (last attempt; 85.370 s run time over 2 attempts)" in page
    listed = client.get(f"{JOBS}?status__exact=succeeded").content.decode()
    assert "0.011 s" in listed and "(1.4 min total)" in listed
    assert "min total" not in listed.replace("(1.4 min total)", ""), "no total spanning the two days"


def test_a_running_attempt_is_not_counted_until_it_ends(client, staff_user):
    record = enqueue("test.sleep", {"marker": "running", "seconds": 0})
    start = timezone.now() - timedelta(seconds=30)
    JobAttempt.objects.create(record=record, number=1, queue=record.queue, correlation_id=record.correlation_id,
                              started_at=start, ended_at=start + timedelta(seconds=2), outcome=Outcome.FAILED)
    JobAttempt.objects.create(record=record, number=2, queue=record.queue, correlation_id=record.correlation_id,
                              started_at=start + timedelta(seconds=20))
    JobRecord.objects.filter(pk=record.pk).update(status=Status.RUNNING, attempts=2, started_at=start)
    client.force_login(staff_user)

    page = client.get(f"{JOBS}{record.pk}/change/").content.decode()
    assert "this attempt running since" in page and "run time over" not in page
