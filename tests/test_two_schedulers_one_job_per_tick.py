"""Two ``manage.py rqscheduler`` processes run at once; both end up inside the same tick, then the one in
the middle of a tick (holding the schedulers' lock) is SIGKILLed and a new one started: every tick of the
schedule gets exactly one job, and none is missed.

The schedulers tick every second (``JOBS_SYSTEM_INTERVAL=1``) and the schedule runs every 4 s, so the
whole run takes about 20 s. To catch a scheduler mid-tick, the test holds the schedule's row lock: a
scheduler that reaches the tick waits in its compare-and-set, inside its tick, holding the lock, and
PostgreSQL shows which one it is (each scheduler connects under its own ``application_name``).
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from jobs import schedules
from jobs.models import JobRecord, Schedule
from tests.conftest import BASE_DIR, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

EVERY = 4  # seconds between the schedule's ticks


class SchedulerProcess:
    def __init__(self, name, log_dir):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "rqscheduler", "--queue", "jdtest.default"],
            cwd=BASE_DIR, env=service_env(JOBS_SYSTEM_INTERVAL=1, PGAPPNAME=name), stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.log.close()


def waiting_in_a_tick():
    """The schedulers whose tick waits for the schedule's row (the test holds it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name FROM pg_stat_activity"
                       " WHERE wait_event_type = 'Lock' AND application_name LIKE 'scheduler-%'")
        return sorted(name for (name,) in cursor.fetchall())


def what_the_schedulers_do(procs):
    """For a failure message: each scheduler's database session and the end of its log."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name, state, wait_event_type, wait_event, left(query, 80)"
                       " FROM pg_stat_activity WHERE application_name LIKE 'scheduler-%'")
        sessions = cursor.fetchall()
    logs = {}
    for name, proc in procs.items():
        proc.log.flush()
        logs[name] = (proc.proc.poll(), proc.log_path.read_text(errors="replace")[-1500:])
    return f"sessions {sessions}; processes (exit code, log) {logs}"


HOLD = EVERY - 1  # seconds a tick may be held past its time: the next one is then still ahead


@contextmanager
def holding_the_next_tick(schedule):
    """Hold the schedule's row from just before its next run until at most ``HOLD`` seconds after it, so
    that a scheduler reaching that tick waits inside it."""
    due = Schedule.objects.get(pk=schedule.pk).next_run_at
    time.sleep(max(0.0, (due - timezone.now()).total_seconds() - 0.5))
    with transaction.atomic():
        Schedule.objects.select_for_update().get(pk=schedule.pk)
        yield


def ticks_enqueued():
    cids = JobRecord.objects.filter(job_type="test.sleep").values_list("correlation_id", flat=True)
    return sorted(int(cid.rsplit("-", 1)[1]) for cid in cids)


def test_two_schedulers_one_killed_mid_tick_enqueue_exactly_one_job_per_tick(tmp_path):
    Schedule.objects.all().delete()  # only this schedule ticks
    schedule = schedules.schedule_save(Schedule(
        name="every 4 s", job_type="test.sleep", payload={"marker": "tick", "seconds": 0}, interval_seconds=EVERY,
    ))
    first_tick = schedule.next_run_at
    procs = {name: SchedulerProcess(name, tmp_path) for name in ("scheduler-a", "scheduler-b")}
    try:
        wait_for(ticks_enqueued, timeout=30, message="the first tick's job")

        # Both schedulers inside the same tick at once: the first one's lock has expired while it waits. On
        # a loaded machine a scheduler whose ticks take a whole interval takes the lock again as soon as it
        # lets it go, and the other one's once-a-second try may miss it for a while: then that tick is let
        # go (it runs, once) and a later one is held. Never longer than a tick's interval (a run held past
        # the next one would be skipped, as the schedule promises for runs missed while no scheduler ran).
        for _ in range(6):
            with holding_the_next_tick(schedule):
                both = wait_for(lambda: len(waiting_in_a_tick()) == 2, timeout=HOLD, fail=False)
            if both:
                break
        else:
            pytest.fail("both schedulers were never inside the same tick (the scheduler lock outlived one"
                        f" interval?): {what_the_schedulers_do(procs)}")

        # The scheduler in the middle of a tick is SIGKILLed; a new one is started.
        for _ in range(6):
            with holding_the_next_tick(schedule):
                victim = wait_for(waiting_in_a_tick, timeout=HOLD, fail=False)
                if victim:
                    procs[victim[0]].kill()
                    break
        else:
            pytest.fail(f"no scheduler was ever inside a tick: {what_the_schedulers_do(procs)}")
        procs["scheduler-c"] = SchedulerProcess("scheduler-c", tmp_path)

        after_the_kill = Schedule.objects.get(pk=schedule.pk).next_run_at + timedelta(seconds=2 * EVERY)
        wait_for(lambda: Schedule.objects.get(pk=schedule.pk).next_run_at > after_the_kill, timeout=40,
                 message="two more ticks after the kill")
    finally:
        for proc in procs.values():
            proc.stop()

    ticks = ticks_enqueued()
    assert len(ticks) == len(set(ticks)), f"a tick ran twice: {ticks}"
    schedule.refresh_from_db()
    first, next_tick = int(first_tick.timestamp()), int(schedule.next_run_at.timestamp())
    assert ticks == list(range(first, next_tick, EVERY)), f"a tick was missed: {ticks}, next {next_tick}"
