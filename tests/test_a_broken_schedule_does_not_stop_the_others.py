"""A schedule that cannot enqueue its job (its type was removed, its stored payload is one the type's schema
now refuses) is moved on to its next run, its error is logged once per run naming it and shown on it in the
admin, and every other schedule (the built-in ones are rows of the same table) still runs; a later run that
enqueues clears the error."""

import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs import schedules
from jobs.models import JobRecord, Schedule
from tests.conftest import BASE_DIR, make_staff, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_builtin_schedules():
    Schedule.objects.all().delete()  # this test makes the ones it needs


def broken_and_working(now):
    """Two schedules that cannot enqueue, overdue the longest (first in the scheduler's order), and two
    that can: a staff one and an internal one like the built-in "Job retention"."""
    due = now - timedelta(seconds=30)
    return {
        "stale": Schedule.objects.create(name="stale", job_type="test.sleep", payload={"seconds": 0},
                                         interval_seconds=60, next_run_at=due - timedelta(seconds=30)),
        "removed": Schedule.objects.create(name="removed type", job_type="test.no_longer_declared", payload={},
                                           cron="*/5 * * * *", next_run_at=due - timedelta(seconds=20)),
        "good": Schedule.objects.create(name="good", job_type="test.sleep", payload={"marker": "g", "seconds": 0},
                                        interval_seconds=60, next_run_at=due),
        "retention": Schedule.objects.create(name="Job retention", job_type="jobs.prune", payload={},
                                             cron="17 * * * *", next_run_at=due),
    }


def test_a_schedule_that_cannot_enqueue_is_moved_on_and_the_others_run(caplog):
    now = timezone.now()
    made = broken_and_working(now)

    with caplog.at_level(logging.WARNING, logger="jobs.schedules"):
        records = schedules.run_due_schedules(now=now)

    assert sorted(r.job_type for r in records) == ["jobs.prune", "test.sleep"]
    for name in ("stale", "removed"):
        schedule = Schedule.objects.get(pk=made[name].pk)
        assert schedule.next_run_at > now, f"{name} was not moved on: it would block the queue of due schedules"
        assert schedule.last_run_at == now and schedule.last_job_id is None
    assert "payload.marker" in Schedule.objects.get(pk=made["stale"].pk).last_error
    assert "test.no_longer_declared" in Schedule.objects.get(pk=made["removed"].pk).last_error
    for name in ("good", "retention"):
        schedule = Schedule.objects.get(pk=made[name].pk)
        assert schedule.next_run_at > now and schedule.last_job_id is not None and schedule.last_error == ""
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(failures) == 2, failures
    assert all(sum(name in r.getMessage() for r in failures) == 1 for name in ("removed type", "stale")), failures

    # The same tick again (a second scheduler, or the next tick of this one): nothing more, nothing logged.
    caplog.clear()
    assert schedules.run_due_schedules(now=now) == []
    assert not caplog.records

    # Its payload put right, the stale schedule's next run enqueues and the error is gone.
    Schedule.objects.filter(pk=made["stale"].pk).update(payload={"marker": "s", "seconds": 0})
    later = Schedule.objects.get(pk=made["stale"].pk).next_run_at
    (record,) = [r for r in schedules.run_due_schedules(now=later)
                 if r.correlation_id.startswith(f"schedule-{made['stale'].pk}-")]
    stale = Schedule.objects.get(pk=made["stale"].pk)
    assert (stale.last_job_id, stale.last_error, stale.last_run_at) == (record.pk, "", later)


def test_a_schedule_whose_next_run_cannot_be_computed_waits_for_an_edit_and_the_others_run():
    now = timezone.now()
    unreadable = Schedule.objects.create(name="written around the form", job_type="test.sleep",
                                         payload={"marker": "u", "seconds": 0}, cron="every minute",
                                         next_run_at=now - timedelta(minutes=5))
    good = Schedule.objects.create(name="good", job_type="test.sleep", payload={"marker": "g", "seconds": 0},
                                   interval_seconds=60, next_run_at=now)

    assert [r.correlation_id.split("-")[1] for r in schedules.run_due_schedules(now=now)] == [str(good.pk)]
    unreadable.refresh_from_db()
    assert unreadable.next_run_at is None and "cannot be computed" in unreadable.last_error

    unreadable.cron = "* * * * *"
    schedules.schedule_save(unreadable)  # what the admin's save does
    assert unreadable.next_run_at is not None


def test_staff_see_the_last_error_on_the_schedule(client):
    now = timezone.now()
    made = broken_and_working(now)
    schedules.run_due_schedules(now=now)
    client.force_login(make_staff("oncall", "Job operators"))

    listing = client.get(reverse("admin:jobs_schedule_changelist")).content.decode()
    assert "payload.marker" in listing and "test.no_longer_declared" in listing

    page = client.get(reverse("admin:jobs_schedule_change", args=[made["stale"].pk]))
    assert page.status_code == 200
    assert "payload.marker" in page.content.decode()
    assert "last_error" not in page.context["adminform"].form.fields, "the error is shown, not editable"


def test_with_a_scheduler_running_a_stale_schedule_does_not_stop_the_others(tmp_path):
    good = schedules.schedule_save(Schedule(name="good", job_type="test.sleep", payload={"marker": "g", "seconds": 0},
                                            interval_seconds=2))
    stale = Schedule.objects.create(name="stale", job_type="test.sleep", payload={"seconds": 0}, interval_seconds=60,
                                    next_run_at=timezone.now() - timedelta(seconds=30))
    log_path = tmp_path / "scheduler.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", "jdtest.default"],
                                cwd=BASE_DIR, env=service_env(JOBS_SYSTEM_INTERVAL=1), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            ran = wait_for(lambda: JobRecord.objects.filter(correlation_id__startswith=f"schedule-{good.pk}-").count()
                           >= 2, timeout=15, fail=False)
        finally:
            proc.terminate()
            proc.wait(15)

    output = log_path.read_text(errors="replace")
    assert ran, f"the good schedule did not run twice in 15 s; the scheduler's log: {output[-3000:]}"
    assert "schedules failed" not in output
    assert sum(1 for line in output.splitlines() if "stale" in line and "payload.marker" in line) == 1, output[-3000:]
    stale.refresh_from_db()
    assert stale.next_run_at > timezone.now() and "payload.marker" in stale.last_error
