"""``manage.py jobs_workers``, the documented worker command: QUEUE_CONCURRENCY_<DOMAIN> workers per
domain, a worker that dies is replaced, SIGTERM lets the job in hand finish before everything stops, and
a pool SIGKILLed alone takes its workers with it."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rq import Worker as RQWorker

from jobs.connection import redis_connection
from jobs.supervisor import descendants
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.conftest import BASE_DIR, service_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has died, its parent has not reaped it yet


def _workers():
    """The registered workers whose process lives (a SIGKILLed worker's key outlives it by its TTL)."""
    return {worker.pid: worker for worker in RQWorker.all(connection=redis_connection()) if _alive(worker.pid)}


@pytest.fixture
def pool(tmp_path):
    log = open(tmp_path / "pool.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "jobs_workers", "--domains", "default", "--grace", "20",
         "--worker-ttl", "16"],
        cwd=BASE_DIR, env=service_env(QUEUE_CONCURRENCY_DEFAULT=2, QUEUE_JOB_HEARTBEAT=1), stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield proc
    try:  # its group, even when the pool itself is gone: a worker it left must not outlive the test
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
    log.close()


def test_a_dead_worker_is_replaced_and_sigterm_lets_the_running_job_finish(pool):
    first = wait_for(lambda: len(_workers()) == 2 and _workers(), timeout=30, message="two workers on default")
    assert all(set(w.queue_names()) == {"jdtest.default.high", "jdtest.default", "jdtest.default.low"}
               for w in first.values())

    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not _alive(victim), timeout=5, message="the killed worker to die")
    replaced = wait_for(lambda: len(_workers()) == 2 and _workers(), timeout=30, message="a replacement worker")
    assert pool.poll() is None and victim not in replaced

    record = enqueue("test.sleep", {"marker": "graceful", "seconds": 3})
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.RUNNING).exists(), timeout=20)
    pool.send_signal(signal.SIGTERM)
    assert pool.wait(30) == 0
    done = JobRecord.objects.get(pk=record.pk)
    assert done.status == Status.SUCCEEDED and done.attempts == 1
    assert not _workers(), "every worker unregistered"


def test_a_sigkilled_pool_leaves_no_worker_behind(pool):
    workers = wait_for(lambda: len(_workers()) == 2 and _workers(), timeout=30, message="two workers on default")
    below = set(descendants(pool.pid))  # the workers, their work processes and scheduler
    assert set(workers) <= below

    os.kill(pool.pid, signal.SIGKILL)  # the pool alone: its workers are not signalled
    pool.wait(5)
    wait_for(lambda: not any(_alive(pid) for pid in below), timeout=5,
             message=f"the pool's workers to die with it; alive: {[pid for pid in below if _alive(pid)]}")


def test_an_unknown_domain_is_refused():
    result = subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), "jobs_workers", "--domains", "defualt"],
                            cwd=BASE_DIR, env=service_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "unknown domain(s) defualt" in result.stderr
