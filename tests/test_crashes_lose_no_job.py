"""The chaos bench, small: hosts crashing (worker and work horse SIGKILLed, a replacement started at once)
and Redis restarted with its data gone lose no job, leave none stuck, and every job that ran twice has
a lost attempt in the ledger to say why.

It runs ``bench/chaos.py --small --json`` (300 jobs of 50 ms, four hosts each running the bench's
default worker command, ``manage.py jobs_workers``, one ``manage.py rqscheduler``, three crashes, one
Redis restart at 40% of the work, default settings) as a process of its own: its own private redis-server on a free port (the
suite's Redis is not touched) and a database of its own, ``<test database>_chaos``, on the suite's
PostgreSQL server. About 45 s when all goes well; bounded by the bench's settle limit.
"""

import json
import os
import signal
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import BASE_DIR

SETTLE = 45  # seconds after the last crash; the defaults settle a Redis wipe well within it
TIMEOUT = 120  # the whole bench, start-up and migration included; it stops what it started on SIGTERM

# The test itself reads nothing from the test database; the mark only has pytest-django build it, which
# the suite's session fixtures (conftest.role_permissions) expect even when a lone test is run.
pytestmark = pytest.mark.django_db


def chaos_database_url():
    url = urlsplit(os.environ["DATABASE_URL"])
    if not url.scheme.startswith("postgres"):
        pytest.skip("the chaos bench needs PostgreSQL (DATABASE_URL)")
    return urlunsplit(url._replace(path="/postgres")), f"{url.path.strip('/') or 'jobdesk'}_chaos"


def run_bench(*args):
    server_url, database = chaos_database_url()
    env = {**os.environ, "DATABASE_URL": server_url}
    command = [sys.executable, str(BASE_DIR / "bench" / "chaos.py"), "--small", "--json", "--settle", str(SETTLE),
               "--database", database, *args]
    bench = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, err = bench.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(bench.pid, signal.SIGTERM)  # the bench stops its hosts, scheduler and Redis
        try:
            out, err = bench.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(bench.pid, signal.SIGKILL)
            out, err = bench.communicate()
        pytest.fail(f"the chaos bench took over {TIMEOUT} s; its progress:\n{err[-4000:]}")
    try:
        report = json.loads(out)
    except ValueError:
        pytest.fail(f"the chaos bench printed no figures (status {bench.returncode}):\n{out[-2000:]}\n{err[-4000:]}")
    return bench.returncode, report, err


def test_crashes_and_a_redis_wipe_lose_no_job():
    status, report, progress = run_bench()
    [scenario] = report["scenarios"]
    assert not scenario.get("error"), f"the bench failed: {scenario.get('error')}\n{progress[-4000:]}"
    assert scenario["enqueued"] == 300 and scenario["records"] == 300
    assert scenario["crashes"] >= 1, "no host was crashed"
    assert scenario.get("disruption_at") is not None, "Redis was not restarted"

    evidence = json.dumps(
        {**{key: scenario.get(key) for key in (
            "statuses", "lost", "stuck", "extra_executions", "explained", "unexplained", "settle_seconds",
            "stuck_by_state", "exited_on_their_own", "workers_quit_samples", "supervisor_restart_samples",
            "clean_registries_locks", "logs")},
         "stuck_records (first 3)": (scenario.get("stuck_records") or [])[:3]},
        indent=1, default=str,
    )
    assert scenario["lost"] == 0, f"jobs lost:\n{evidence}"
    assert scenario["stuck"] == 0, f"jobs stuck (not terminal {SETTLE} s after the last crash):\n{evidence}"
    assert scenario["unexplained"] == 0, f"extra executions without a recorded lost attempt:\n{evidence}"
    assert scenario["succeeded"] + scenario["dead"] == 300
    assert status == 0 and report["goal_met"]
