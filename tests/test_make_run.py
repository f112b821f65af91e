"""``make run`` on embedded defaults: SQLite, a private Redis, demo data, a printed admin login that
works, demo jobs that run, and Ctrl-C stopping everything."""

import http.cookiejar
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import BASE_DIR, free_port, wait_for

# make test's own settings must not leak in: make run starts from nothing.
STRIPPED = ("DATABASE_URL", "REDIS_URL", "QUEUE_REDIS_URL", "QUEUE_NAMESPACE", "JOBS_TASK_MODULES", "DEBUG",
            "SECRET_KEY", "SECURE_SSL_REDIRECT", "DJANGO_SETTINGS_MODULE")


@pytest.fixture
def make_run(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env.update(JOBDESK_VAR_DIR=str(tmp_path), PORT=str(port), PYTHONUNBUFFERED="1")
    log = open(tmp_path / "make-run.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "project.devrun"], cwd=BASE_DIR, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    yield proc, port, tmp_path, log
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    log.close()


def output(log):
    log.flush()
    log.seek(0)
    return log.read()


def statuses(db_path):
    with sqlite3.connect(db_path, timeout=5) as db:
        return dict(db.execute("SELECT status, count(*) FROM jobs_jobrecord GROUP BY status").fetchall())


def log_in(base, username, password):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/admin/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token,
                                   "next": "/admin/"}).encode()
    opener.open(urllib.request.Request(f"{base}/admin/login/", data=data, headers={"Referer": f"{base}/admin/login/"}))
    return opener


def test_make_run_starts_everything_and_ctrl_c_stops_it(make_run):
    proc, port, var_dir, log = make_run
    match = wait_for(lambda: re.search(r"log in as:\s+(\S+) / (\S+)", output(log)), timeout=120,
                     message="make run to print the login")
    username, password = match.groups()
    assert f"http://127.0.0.1:{port}/admin/" in output(log)
    assert (var_dir / "redis" / "redis.sock").exists(), "a private Redis on a Unix socket"

    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(f"{base}/healthz"), timeout=30, message="the web server")
    opener = log_in(base, username, password)
    jobs_page = opener.open(f"{base}/admin/jobs/jobrecord/").read().decode()
    assert "demo.flaky_webhook" in jobs_page and "Log out" in jobs_page

    # The web server is gunicorn, which reads a chunked body: one over the API's limit is 413, not empty.
    chunked = urllib.request.Request(f"{base}/api/jobs", data=iter([b"x" * 40_000] * 2), method="POST",
                                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(chunked, timeout=10)
    assert refused.value.code == 413

    db = var_dir / "jobdesk.sqlite3"
    wait_for(lambda: (s := statuses(db)).get("succeeded", 0) >= 6 and s.get("dead") == 1, timeout=90,
             interval=0.5, message=f"the demo jobs to run ({statuses(db)})")
    final = statuses(db)
    assert final.get("canceled") == 1 and final.get("queued", 0) >= 1  # the delayed one waits its hour

    # The demo branding save reaches both demo shards, signed; then the demo webhook hears of it.
    wait_for(lambda: "demo webhook receiver: branding.applied" in output(log), timeout=60,
             message="the demo fan-out and its webhook delivery")
    for shard in (1, 2):
        assert f"demo shard {shard}: applied branding version 1 for guild 1 (signature verified)" in output(log)
    # Web Push works: make run's VAPID pair signs a push that the demo push service verifies and decrypts.
    wait_for(lambda: "demo push service: 1 message(s) for the admin's demo browser: Push works in make run "
                     "(VAPID verified, decrypted)" in output(log), timeout=60, message="the demo push")

    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal signals the whole process group
    assert proc.wait(30) == 0
    time.sleep(0.5)
    assert not (var_dir / "redis" / "redis.sock").exists(), "the private Redis stopped too"
    assert not _answers(f"{base}/healthz")


def _answers(url):
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except Exception:
        return False
