"""``make run`` on embedded defaults: SQLite, a private Redis, demo data, a printed admin login that
works (once the web server answers), demo jobs that run, ``var/env`` for manage.py in another shell, and
Ctrl-C stopping everything, during start-up too. A second make run on the same ``var/`` and a bad or busy
``PORT`` are refused before anything starts."""

import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BASE_DIR, free_port, wait_for

# make test's own settings must not leak in: make run starts from nothing.
STRIPPED = ("DATABASE_URL", "REDIS_URL", "QUEUE_REDIS_URL", "QUEUE_NAMESPACE", "JOBS_TASK_MODULES", "DEBUG",
            "SECRET_KEY", "SECURE_SSL_REDIRECT", "DJANGO_SETTINGS_MODULE")


def make_run_env(var_dir, port):
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED}
    env.update(JOBDESK_VAR_DIR=str(var_dir), PORT=str(port), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def make_run(tmp_path):
    port = free_port()
    var_dir = tmp_path / "var"
    log = open(tmp_path / "make-run.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "project.devrun"], cwd=BASE_DIR, env=make_run_env(var_dir, port),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield proc, port, var_dir, log
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # make run's children die with it (redis-server included)
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
    assert _answers(f"{base}/healthz"), "the banner waits for the web server"

    # A second make run on the same var/ refuses at once and leaves the first one's Redis and server alone.
    second = subprocess.run([sys.executable, "-m", "project.devrun"], cwd=BASE_DIR, capture_output=True, text=True,
                            env=make_run_env(var_dir, free_port()), timeout=30)
    assert second.returncode != 0
    assert f"make run: already running from {var_dir} (pid {proc.pid})" in second.stderr
    assert "private Redis" not in second.stdout
    assert (var_dir / "redis" / "redis.sock").exists() and _answers(f"{base}/healthz")

    # Another shell: var/env gives manage.py make run's settings (no venv on PATH, nothing else set).
    env_file = var_dir / "env"
    assert f"export SITE_URL=http://127.0.0.1:{port}\n" in env_file.read_text()
    assert f". {env_file} && " in output(log)
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}
    status = subprocess.run(["bash", "-c", f". {env_file} && {sys.executable} manage.py jobs_status"], cwd=BASE_DIR,
                            env=bare, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert status.stdout.split()[:2] == ["queue", "waiting"] and "jobdesk.default" in status.stdout
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
    assert not env_file.exists()
    assert "KeyboardInterrupt" not in output(log), "the demo peers (and the rest) stop quietly"
    assert not _left_behind(proc.pid, var_dir)


def test_a_bad_or_busy_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for value, message in ((port, f"make run: port {port} is in use; set PORT=<another>"),
                               ("abc", "make run: PORT must be a port number (1-65535), got 'abc'")):
            var_dir = tmp_path / str(value)
            run = subprocess.run([sys.executable, "-m", "project.devrun"], cwd=BASE_DIR, capture_output=True,
                                 text=True, env=make_run_env(var_dir, value), timeout=30)
            assert run.returncode != 0 and message in run.stderr
            assert "jobdesk is running" not in run.stdout
            assert [p.name for p in var_dir.iterdir()] == ["make-run.lock"], "nothing started, nothing migrated"


def test_ctrl_c_during_start_up_leaves_no_redis(make_run):
    proc, port, var_dir, log = make_run
    wait_for(lambda: "make run: private Redis at" in output(log), timeout=30, message="the private Redis")
    os.killpg(proc.pid, signal.SIGINT)  # during the migration of a fresh database
    assert proc.wait(30) == 0
    assert "jobdesk is running" not in output(log)
    assert not (var_dir / "redis" / "redis.sock").exists()
    assert not _left_behind(proc.pid, var_dir)


def _left_behind(pgid, var_dir):
    """Processes of make run's group, or naming its var/ (redis-server runs in a session of its own). A
    zombie (state Z: ended, its exit status not yet read by its parent, or by a container's init that
    reaps nothing) is not left running."""
    time.sleep(0.5)
    left = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if os.getpgid(int(entry.name)) == pgid or str(var_dir).encode() in (entry / "cmdline").read_bytes():
                left.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ProcessLookupError):
            pass
    return left


def _answers(url):
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except Exception:
        return False
