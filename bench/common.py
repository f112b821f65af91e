"""What the benchmarks share: pointing a process (and the workers it starts) at the bench's own
PostgreSQL database and Redis database, creating that database, a raw psycopg connection, percentiles."""

import math
import os
import sys
from urllib.parse import urlsplit, urlunsplit

BENCH_EXPORTS_KEY = "test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # the Makefile's TEST_EXPORTS_KEY


def bench_environment(database, redis_db, **extra):
    """Set DATABASE_URL and REDIS_URL to the bench's own database and Redis db number (host and user
    from the current ones), production-like settings, and ``extra``; existing SECRET_KEY, QUEUE_NAMESPACE
    and EXPORTS_ENCRYPTION_KEYS are kept."""
    db_url = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = urlsplit(os.environ.get("QUEUE_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    if not db_url.scheme.startswith("postgres") or redis_url.scheme not in ("redis", "rediss"):
        sys.exit("DATABASE_URL must be a postgres:// URL and REDIS_URL a redis:// URL (the bench picks the "
                 "database name and number)")
    os.environ.update(
        DATABASE_URL=urlunsplit(db_url._replace(path=f"/{database}")),
        REDIS_URL=urlunsplit(redis_url._replace(path=f"/{redis_db}")),
        DEBUG="false", SECURE_SSL_REDIRECT="false", DJANGO_SETTINGS_MODULE="project.settings", PYTHONUNBUFFERED="1",
    )
    os.environ["QUEUE_REDIS_URL"] = os.environ["REDIS_URL"]
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("EXPORTS_ENCRYPTION_KEYS", BENCH_EXPORTS_KEY)
    os.environ.update({key: str(value) for key, value in extra.items()})


def create_database(name, *, fresh=False):
    """Create the bench database if it is missing (``fresh``: drop it first), through ``postgres``."""
    import psycopg
    from psycopg import sql

    url = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def raw_connection():
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"])


def empty_ledger(*extra_tables):
    """Flush the bench's Redis database and empty the ledger (jobs, attempts, audit events) and ``extra_tables``."""
    from django.db import connection

    from audit.models import AuditEvent
    from jobs.connection import redis_connection
    from jobs.models import JobAttempt, JobRecord

    redis_connection().flushdb()
    tables = ", ".join([*(m._meta.db_table for m in (JobAttempt, JobRecord, AuditEvent)), *extra_tables])
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# --- private services and whole-host crashes (bench/chaos.py) -------------------------------------------
# A bench that restarts Redis or PostgreSQL must never touch the machine's shared servers: it starts its
# own, on a free port in a temporary directory, and stops them (by PID) when it ends.


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class PrivateRedis:
    """A redis-server of the bench's own: a free TCP port on 127.0.0.1, no persistence (``--save ""
    --appendonly no``), its directory a temporary one. ``restart()`` SIGKILLs it and starts an empty one on
    the same port: Redis restarted with its data gone."""

    def __init__(self, workdir, port=None):
        self.workdir = str(workdir)
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout=10):
        import subprocess

        import redis

        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir, "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            wait_until(client.ping, timeout, what=f"private redis-server on port {self.port}")
        finally:
            client.close()

    def stop(self, kill=False):
        import signal
        import subprocess

        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def restart(self, down=1.0):
        """Kill it (its data goes with it), stay down ``down`` seconds, start an empty one on the same port."""
        import time

        self.stop(kill=True)
        time.sleep(down)
        self.start()


class PrivatePostgres:
    """A PostgreSQL 15 cluster of the bench's own: ``initdb`` (trust auth) in a temporary directory, served
    on a free port of 127.0.0.1 (its socket in the same directory). Run as the ``postgres`` user when the
    bench runs as root (initdb refuses root). ``restart()`` stops it (``-m fast``: every connection is
    cut), waits ``down`` seconds and starts it again, data kept."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self, datadir, port=None):
        self.datadir = str(datadir)
        self.port = port or free_port()

    def url(self, database="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args, timeout=60):
        import os
        import subprocess

        command = [f"{self.BIN}/{args[0]}", *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       cwd="/", start_new_session=True)

    def init(self):
        import os
        import pwd

        os.makedirs(self.datadir, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.datadir, user.pw_uid, user.pw_gid)
        os.chmod(self.datadir, 0o700)
        self._run("initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C")

    def start(self, timeout=30):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir}"
        self._run("pg_ctl", "-D", self.datadir, "-o", options, "-l", f"{self.datadir}/server.log", "-w",
                  "-t", str(timeout), "start", timeout=timeout + 10)

    def stop(self, mode="fast"):
        import os

        if os.path.exists(f"{self.datadir}/postmaster.pid"):
            self._run("pg_ctl", "-D", self.datadir, "-m", mode, "-w", "stop")

    def restart(self, down=1.0):
        import time

        self.stop("fast")
        time.sleep(down)
        self.start()


def process_tree(pid):
    """``pid``'s descendants (children of all its threads, recursively)."""
    import glob

    found = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(path) as f:
                children = [int(c) for c in f.read().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *process_tree(child)]
    return found


def kill_process_tree(pid):
    """SIGKILL ``pid``'s process group and every process descended from it, in whatever group (RQ puts its
    work horse in a group of its own): a host dying at once. Everything is stopped (SIGSTOP) first, until
    no new descendant shows up, so that nothing forks or gets re-parented away between listing and kill."""
    import os
    import signal

    stopped = []
    for _ in range(50):
        new = [p for p in [pid, *process_tree(pid)] if p not in stopped]
        if not new:
            break
        for p in new:
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            stopped.append(p)
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for p in stopped:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return stopped
