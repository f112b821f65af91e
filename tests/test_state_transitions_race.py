"""Two processes racing for the same transition: exactly one wins, every time."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs import states
from jobs.enqueue import enqueue_many
from jobs.models import JobAttempt, JobRecord, Status
from tests.conftest import service_env

pytestmark = pytest.mark.django_db(transaction=True)

CLAIM_ALL = """
import sys, time, django
django.setup()
from jobs import states
ids = sys.argv[2].split(",")
start = float(sys.argv[1])
while time.time() < start:
    pass
won = [i for i in ids if states.start_attempt(i, worker=sys.argv[3])[0] is not None]
print(",".join(won))
"""


def test_two_processes_claiming_the_same_jobs_never_both_win():
    records = enqueue_many("test.sleep", [{"marker": f"race{i}", "seconds": 0} for i in range(40)])
    ids = ",".join(str(r.pk) for r in records)
    start_at = str(time.time() + 2.5)  # both processes are set up and spinning before the start
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIM_ALL, start_at, ids, name], env=service_env(),
                         cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
        for name in ("racer-a", "racer-b")
    ]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    won_a, won_b = (set(filter(None, out.split(","))) for out in outputs)

    assert not (won_a & won_b), "a job claimed by both processes"
    assert len(won_a | won_b) == 40
    assert JobRecord.objects.filter(status=Status.RUNNING, attempts=1).count() == 40
    assert JobAttempt.objects.count() == 40
    for record in JobRecord.objects.all():
        assert record.worker == ("racer-a" if str(record.pk) in won_a else "racer-b")


def test_a_stale_worker_cannot_finish_a_newer_attempt():
    record = enqueue_many("test.sleep", [{"marker": "stale", "seconds": 0}])[0]
    record, first = states.start_attempt(record.pk, worker="old")
    assert states.transition(record, Status.RETRYING, expected={Status.RUNNING}, attempt=1)
    record, second = states.start_attempt(record.pk, worker="new")
    assert second.number == 2

    assert not states.finish_attempt(record, first, Status.SUCCEEDED, outcome="succeeded")
    assert states.finish_attempt(record, second, Status.SUCCEEDED, outcome="succeeded")


def test_transitions_outside_the_state_machine_are_refused():
    record = enqueue_many("test.sleep", [{"marker": "x", "seconds": 0}])[0]
    with pytest.raises(states.TransitionNotAllowed):
        states.transition(record, Status.SUCCEEDED, expected={Status.QUEUED})
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
