"""Fixtures that start from real services: the PostgreSQL test database, Redis, and real
``manage.py rqworker`` processes running against both.

``make test`` sets the environment (DATABASE_URL, REDIS_URL on a database of its own, QUEUE_NAMESPACE,
JOBS_TASK_MODULES=tests.jobtypes); see the Makefile.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from jobs import connection as jobs_connection
from jobs.supervisor import descendants

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def passwords_hash_once():
    """Each test password is hashed once per session, with the production hasher (PBKDF2, about 0.6 s a
    hash on this machine): the fixtures make the same people in hundreds of tests, and hashing their
    passwords again each time cost minutes of the suite. Logging in still checks a real hash."""
    from functools import lru_cache

    from django.contrib.auth import base_user, models

    original = base_user.make_password
    cached = lru_cache(maxsize=None)(lambda password: original(password))

    def make_password(password, salt=None, hasher="default"):
        if salt is None and hasher == "default" and isinstance(password, str):
            return cached(password)
        return original(password, salt, hasher)

    base_user.make_password = models.make_password = make_password
    yield
    base_user.make_password = models.make_password = original


# Tables a transactional test's clean-up leaves as they are: Django's flush empties them and its
# post_migrate signal then writes the same rows again.
KEPT_TABLES = frozenset({"django_content_type", "auth_permission", "django_migrations"})


def empty_tables(connection):
    """Every table of the test database emptied in one transaction, as Django's flush leaves them after a
    transactional test, but with DELETE rather than TRUNCATE (0.01 s against 0.5-0.75 s a test on this
    machine: TRUNCATE makes new files for each of 37 tables, and flush then re-creates every content type
    and permission). Triggers and foreign-key checks are off while it runs (``session_replication_role``),
    so that the ledger's triggers write nothing about rows being removed and no order is needed."""
    tables = [name for name in connection.introspection.django_table_names(only_existing=True, include_views=False)
              if name not in KEPT_TABLES]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("BEGIN; SET LOCAL session_replication_role = replica; "
                       + "".join(f"DELETE FROM {quote(name)}; " for name in tables) + "COMMIT;")


@pytest.fixture(autouse=True, scope="session")
def transactional_tests_end_with_empty_tables():
    """Django's TransactionTestCase ends each test with ``flush``; here with ``empty_tables`` (same end
    state, a fraction of the time: the suite has over a thousand transactional tests)."""
    from django.db import connections
    from django.test.testcases import TransactionTestCase

    if connections["default"].vendor != "postgresql":
        yield
        return
    original = TransactionTestCase._fixture_teardown

    def _fixture_teardown(self):
        for db_name in self._databases_names(include_mirrors=False):
            empty_tables(connections[db_name])

    TransactionTestCase._fixture_teardown = _fixture_teardown
    yield
    TransactionTestCase._fixture_teardown = original


def wait_for(predicate, timeout=20.0, interval=0.05, message="condition", fail=True):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds
    (or, with ``fail=False``, return the last falsy value for the caller to explain)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            if not fail:
                return value
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test starts with an empty Redis database (the suite's own, never db 0)."""
    jobs_connection.reset()
    conn = jobs_connection.redis_connection()
    conn.flushdb()
    yield conn
    jobs_connection.reset()


def database_url():
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


def service_env(**extra):
    """The environment for a jobdesk process started by a test: same settings, the test database."""
    env = dict(os.environ)
    env.update(DATABASE_URL=database_url(), QUEUE_REDIS_URL=settings.QUEUE_REDIS_URL, PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


class WorkerProcess:
    """A real ``manage.py rqworker`` in its own process group (so a crash test can kill worker and child)."""

    def __init__(self, *queues, worker_class=None, burst=False, env=None, log_path=None):
        self.queues = queues or tuple(settings.RQ_QUEUES)
        args = [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", *self.queues, "--worker-ttl", "16"]
        if burst:
            args.append("--burst")
        else:
            args.append("--with-scheduler")
        if worker_class:
            args += ["--worker-class", worker_class]
        self.log_path = log_path
        self.log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(args, cwd=BASE_DIR, env=service_env(**(env or {})), stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def kill_group(self):
        """SIGKILL the worker and its work horse (which RQ puts in a process group of its own): a machine
        dying mid-job."""
        pids = descendants(self.proc.pid)
        os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)

    def stop(self, grace=15):
        """SIGTERM (a warm shutdown: the current job may finish within ``grace`` seconds), then SIGKILL."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(grace)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        try:  # a worker that died alone (a crash test) leaves its scheduler process in its group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.log is not subprocess.DEVNULL:
            self.log.close()

    def output(self):
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def wait(self, timeout=60):
        return self.proc.wait(timeout)


@pytest.fixture
def start_worker(tmp_path):
    """Start real worker processes; all are stopped at the end of the test."""
    workers = []

    def start(*queues, **kwargs):
        kwargs.setdefault("log_path", tmp_path / f"worker-{len(workers)}.log")
        worker = WorkerProcess(*queues, **kwargs)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:  # the test is over: a job still running (a 30 s sleep) need not finish
        worker.stop(grace=2)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test can stop and start again."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), timeout=10, message="private redis-server")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _pings(client):
    try:
        return client.ping()
    except Exception:
        return False


@pytest.fixture
def private_redis(tmp_path, settings):
    """Point jobdesk (this process and the workers it starts) at a Redis the test controls."""
    server = PrivateRedis(tmp_path)
    server.start()
    settings.QUEUE_REDIS_URL = server.url
    settings.RQ_QUEUES = {name: {**config, "URL": server.url} for name, config in settings.RQ_QUEUES.items()}
    jobs_connection.reset()
    yield server
    server.stop()
    jobs_connection.reset()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("operator", "op@example.com", "pw-operator-1", is_staff=True,
                                                 is_superuser=True)


OPERATORS = "Job operators"
VIEWERS = "Job viewers"
# The roles as the migrations leave them (see make_staff for why they may need re-creating).
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's set-up, then the role groups' permissions read once, as the migrations left them
    (before any transactional test empties the tables). Tests without the database never ask for it."""
    from django.contrib.auth.models import Group

    with django_db_blocker.unblock():
        for group in Group.objects.prefetch_related("permissions__content_type"):
            ROLE_PERMISSIONS[group.name] = [(p.content_type.app_label, p.codename) for p in group.permissions.all()]


def make_staff(username, role):
    """A staff member (is_staff, not superuser) in one of the role groups the migration creates.

    A transactional test empties every table when it ends, the groups' too, so a group missing here is
    re-created exactly as the migration defines it."""
    from django.contrib.auth.models import Group, Permission, User

    group, created = Group.objects.get_or_create(name=role)
    if created:
        group.permissions.set([Permission.objects.get(content_type__app_label=app, codename=codename)
                               for app, codename in ROLE_PERMISSIONS[role]])
    user = User.objects.create_user(username, f"{username}@example.com", f"pw-{username}-1", is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def world(django_user_model):
    """Two guilds and the people around them: an admin and a member of "mine", the owner of "other",
    and a staff member in neither."""
    from project.models import Guild, Membership

    mine, other = Guild.objects.create(name="Mine", slug="mine"), Guild.objects.create(name="Other", slug="other")
    users = {}
    for name, guild, role in [("admin", mine, "admin"), ("member", mine, "member"), ("other_admin", other, "owner")]:
        users[name] = django_user_model.objects.create_user(name, password=f"pw-{name}-1")
        Membership.objects.create(user=users[name], guild=guild, role=role)
    users["staff"] = django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)
    return {"mine": mine, "other": other, **users}
