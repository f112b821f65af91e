"""The RQ classes jobdesk runs with: set in ``settings.RQ`` so that ``manage.py rqworker`` and
``manage.py rqscheduler`` use them without extra flags.

- JSON only: the worker, its jobs and the scheduler's jobs use ``JSONSerializer`` whatever the command
  line says (``rqworker`` passes the pickle serializer explicitly; see NOTES.md). A pickled job cannot
  even be decoded, so it is never executed.
- Only ledger jobs run: a job whose function is not ``jobs.runner.run_job`` is refused.
- Short heartbeats (``QUEUE_JOB_HEARTBEAT`` + ``QUEUE_HEARTBEAT_GRACE`` instead of RQ's fixed 60 s), so
  that a SIGKILLed worker's job is seen abandoned, and reconciled, within seconds.
- Less per-job work than RQ: a finished job is deleted in the success pipeline without RQ's extra reads
  (the ledger keeps results), and the forking worker lends its PostgreSQL connection to each work horse
  instead of having every job connect anew (see ``Worker``).
- Fewer Redis round trips per job (about 9 where RQ makes 18): the worker's own heartbeat, which RQ
  sends up to three times per job as two separate commands, goes at most once a second in one round
  trip (its key lives ``worker_ttl`` seconds, minutes by default); paused queues and ``rq suspend`` are
  read together at most once a second (and an idle worker honours both); and a success skips RQ's
  WATCH and read of the job's dependents, which ledger jobs never have (the ledger, not RQ, chains work).
"""

import logging
import os
import time

from django.conf import settings
from django.db import connections
from rq import SimpleWorker as RQSimpleWorker
from rq import Worker as RQWorker
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

try:
    from django_rq.queues import DjangoScheduler
except ImportError:  # pragma: no cover - rq-scheduler is a pinned dependency
    DjangoScheduler = None

from jobs import runner  # noqa: F401  (imported once here, before the worker forks, not in every job)
from jobs.connection import without_client_setinfo
from jobs.dispatch import RUNNER
from jobs.queues import PAUSE_POLL, worker_controls

log = logging.getLogger(__name__)

ALLOWED_FUNCTIONS = frozenset({RUNNER})


class RefusedJob(Exception):
    """A job in Redis that is not a jobdesk ledger job: it is failed without running."""


class Job(RQJob):
    def __init__(self, id=None, connection=None, serializer=None):
        super().__init__(id=id, connection=connection, serializer=JSONSerializer)

    def _execute(self):
        if self.func_name not in ALLOWED_FUNCTIONS:
            raise RefusedJob(f"refused to run {self.func_name!r}: only jobdesk ledger jobs run here")
        return super()._execute()

    def cleanup(self, ttl=None, pipeline=None, remove_from_queue=True):
        if ttl == 0 and pipeline is not None and not remove_from_queue:
            # A finished job (the worker's success path, which has already cleaned up its execution):
            # delete it in the same pipeline, without RQ's status and registry reads.
            pipeline.delete(self.key, self.dependents_key, self.dependencies_key, f"rq:executions:{self.id}")
            return
        super().cleanup(ttl=ttl, pipeline=pipeline, remove_from_queue=remove_from_queue)


class _JobdeskWorkerMixin:
    """What both worker classes share: JSON, short heartbeats, and paused queues left alone."""

    _controls = (float("-inf"), frozenset(), False)  # checked at, paused queues, suspended
    _heartbeat_sent = float("-inf")
    EVERY = 1.0  # seconds between the worker's own heartbeats, and between checks for `rq suspend`

    def __init__(self, *args, **kwargs):
        kwargs["serializer"] = JSONSerializer
        kwargs["job_class"] = Job
        if kwargs.get("connection") is not None:
            without_client_setinfo(kwargs["connection"])
        kwargs.setdefault("job_monitoring_interval", settings.QUEUE_JOB_HEARTBEAT)
        kwargs.setdefault("maintenance_interval", max(5, settings.QUEUE_JOB_HEARTBEAT))
        kwargs.setdefault("default_result_ttl", settings.QUEUE_RESULT_TTL)
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self):
        # Wake up every few seconds, so that pausing or resuming a queue takes effect without a restart.
        return min(super().dequeue_timeout, PAUSE_POLL)

    def _poll_controls(self):
        """The paused queues and whether ``rq suspend`` is on, read at most once a second (one round trip)."""
        now = time.monotonic()
        checked_at = self._controls[0]
        if now - checked_at >= self.EVERY:
            self._controls = (now, *worker_controls(self.connection))
        return self._controls[1:]

    @property
    def _ordered_queues(self):
        """The queues to take jobs from now: those not paused, in priority order. With all of them
        paused, or the workers suspended (``rq suspend``; RQ itself would still take the next job while
        idle), an idle queue that never holds a job, so that the worker waits instead of spinning."""
        paused, suspended = self._poll_controls()
        active = [] if suspended else [queue for queue in self._queues_in_order if queue.name not in paused]
        if active:
            return active
        return [self.queue_class(f"{settings.QUEUE_NAMESPACE}.paused-idle", connection=self.connection,
                                 serializer=self.serializer)]

    @_ordered_queues.setter
    def _ordered_queues(self, queues):
        self._queues_in_order = list(queues)

    def heartbeat(self, timeout=None, pipeline=None):
        if timeout is not None or pipeline is not None:  # part of a job's own bookkeeping: as RQ does it
            return super().heartbeat(timeout, pipeline)
        now = time.monotonic()
        if now - self._heartbeat_sent < self.EVERY:
            return None
        self._heartbeat_sent = now
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(None, pipe)
            pipe.execute()

    def check_for_suspension(self, burst):
        if self._poll_controls()[1]:
            return super().check_for_suspension(burst)  # waits, as RQ does, until `rq resume`
        return None

    def handle_job_success(self, job, queue, started_job_registry):
        if job.get_result_ttl(self.default_result_ttl) != 0 or job.repeats_left:
            return super().handle_job_success(job, queue, started_job_registry)
        # RQ's path, less the WATCH of the job's dependents and their read (see the module's docstring).
        with self.connection.pipeline() as pipeline:
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            job.cleanup(0, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            pipeline.execute()
        self.log.info("Successfully completed %s job in %ss on worker %s", job.description,
                      job.ended_at - job.started_at, self.name)

    def get_heartbeat_ttl(self, job):
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + settings.QUEUE_HEARTBEAT_GRACE
        return self.job_monitoring_interval + settings.QUEUE_HEARTBEAT_GRACE


class _DirtyConnection(Exception):
    """The work horse left a database connection mid-transaction: the worker must not reuse it."""


class Worker(_JobdeskWorkerMixin, RQWorker):
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

    def execute_job(self, job, queue):
        connection = connections["default"]
        if self._lend_database() and not connection.is_usable():
            connection.close()
            connection.connect()
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


class SimpleWorker(_JobdeskWorkerMixin, RQSimpleWorker):
    """Runs jobs in the worker process itself: no fork, database connections reused between jobs."""


if DjangoScheduler is not None:

    class Scheduler(DjangoScheduler):
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

        def enqueue_jobs(self):
            jobs = super().enqueue_jobs()
            from jobs.maintenance import system_tick

            system_tick()
            return jobs
