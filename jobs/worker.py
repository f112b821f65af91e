"""The RQ classes jobdesk runs with: set in ``settings.RQ`` so that ``manage.py rqworker`` and
``manage.py rqscheduler`` use them without extra flags.

- JSON only: the worker, its jobs and the scheduler's jobs use ``JSONSerializer`` whatever the command
  line says (``rqworker`` passes the pickle serializer explicitly; see NOTES.md). A pickled job cannot
  even be decoded, so it is never executed.
- Only ledger jobs run: a job whose function is not ``jobs.runner.run_job`` is refused.
- Short heartbeats (``QUEUE_JOB_HEARTBEAT`` + ``QUEUE_HEARTBEAT_GRACE`` instead of RQ's fixed 60 s), so
  that a SIGKILLed worker's job is seen abandoned, and reconciled, within seconds.
- Less per-job work than RQ, and about half its Redis round trips per job; workers ride out a Redis or
  database restart (they wait with backoff instead of quitting).

The private RQ methods these classes override live in ``jobs.rq_internals`` (``WorkerOverrides``,
``Job``), beside RQ's key names: an RQ upgrade is reviewed there.
"""

import contextlib
import logging
import os
import time

from django.conf import settings
from django.db import connections
from redis.exceptions import RedisError
from rq import SimpleWorker as RQSimpleWorker
from rq import Worker as RQWorker
from rq.serializers import JSONSerializer

try:
    from django_rq.queues import DjangoScheduler
except ImportError:  # pragma: no cover - rq-scheduler is a pinned dependency
    DjangoScheduler = None

from jobs import runner  # noqa: F401  (imported once here, before the worker forks, not in every job)
from jobs.persistent_worker import PersistentWorker  # noqa: F401  (selectable by --worker-class)
from jobs.rq_internals import (  # noqa: F401  (RefusedJob: re-exported)
    REDIS_DOWN, Backoff, Job, RefusedJob, SchedulerOverrides, WorkerOverrides,
)

log = logging.getLogger(__name__)


class _DirtyConnection(Exception):
    """The work horse left a database connection mid-transaction: the worker must not reuse it."""


class Worker(WorkerOverrides, RQWorker):
    """A forking worker (RQ's default): each job runs in a child process.

    Connecting to PostgreSQL costs a few milliseconds, more than a short job. So the worker opens the
    connection itself, before it forks, and each work horse inherits and uses it while the worker
    waits (the two never use it at the same time). A horse that ends cleanly leaves the connection idle
    for the next one; after any other end (killed, timed out, a transaction left open) the worker drops
    its copy and connects again. SQLite connections are never carried across a fork.
    """

    _horse_status = None

    def _lend_database(self):
        return connections["default"].vendor == "postgresql"

    def _database_ready(self):
        """The connection each work horse inherits answers (checked before a job is taken)."""
        if not self._lend_database():
            return super()._database_ready()
        connection = connections["default"]
        if not connection.is_usable():
            connection.close()
            connection.ensure_connection()  # raises Django's OperationalError while the database is away

    def execute_job(self, job, queue):
        connection = connections["default"]
        self._horse_status = None
        try:
            super().execute_job(job, queue)
        finally:
            if self._lend_database() and self._horse_status != os.EX_OK:
                _drop(connection)

    def wait_for_horse(self):
        pid, status, rusage = super().wait_for_horse()
        if pid:
            self._horse_status = status
        return pid, status, rusage

    def perform_job(self, job, queue):
        result = super().perform_job(job, queue)
        if self._is_horse:
            for connection in connections.all(initialized_only=True):
                if connection.in_atomic_block or (connection.connection and connection.connection.info.transaction_status):
                    connection.close()
                    raise _DirtyConnection(connection.alias)  # the horse exits non-zero: see execute_job
                if connection.alias != "default" or not self._lend_database():
                    connection.close()
        return result


def _drop(connection):
    """Forget the worker's copy of a connection a work horse may have left in any state."""
    try:
        connection.close()
    except Exception:
        connection.connection = None


class SimpleWorker(WorkerOverrides, RQSimpleWorker):
    """Runs jobs in the worker process itself: no fork, database connections reused between jobs."""


if DjangoScheduler is not None:

    class Scheduler(SchedulerOverrides, DjangoScheduler):
        """``manage.py rqscheduler``: JSON jobs, and the relay and reconciler on every tick.

        Ticks come every ``JOBS_SYSTEM_INTERVAL`` seconds at most. Two schedulers share one lock
        (``<namespace>:scheduler_lock``), so only one of them ticks at a time.
        """

        scheduler_lock_key = f"{settings.QUEUE_NAMESPACE}:scheduler_lock"

        def __init__(self, *args, **kwargs):
            kwargs["job_class"] = Job
            kwargs["interval"] = min(kwargs.get("interval") or 60, settings.JOBS_SYSTEM_INTERVAL)
            super().__init__(*args, **kwargs)
            self.serializer = JSONSerializer

        def acquire_lock(self):
            # rq-scheduler's lock lives interval + 10 s: a scheduler killed mid-tick stopped the other one
            # that long, missing ticks. One interval is enough: a schedule's tick is exactly-once anyway
            # (compare-and-set in jobs.schedules); the lock only spares the other scheduler the work.
            self._lock_acquired = self.connection.set(self.scheduler_lock_key, self.name, nx=True,
                                                      ex=max(1, int(self._interval)))
            return self._lock_acquired

        def run(self, burst=False):
            """rq-scheduler's loop, started again whenever Redis goes away under it (it would exit: a
            restart of Redis then left every later job without its relay and reconciler)."""
            from jobs.readiness import warn_about_redis

            with contextlib.suppress(RedisError):
                warn_about_redis("rqscheduler")
            backoff = Backoff()
            while True:
                started = time.monotonic()
                try:
                    return super().run(burst=burst)
                except REDIS_DOWN as exc:
                    if time.monotonic() - started > 60:
                        backoff.reset()
                    log.warning("rqscheduler: Redis unavailable, starting again in %.1fs: %s", backoff.delay, exc)
                    backoff.wait()
                    with contextlib.suppress(RedisError):  # its own key, left without a death mark
                        self.connection.delete(self.key)

        def enqueue_jobs(self):
            jobs = super().enqueue_jobs()
            from jobs.maintenance import system_tick

            system_tick()
            return jobs
