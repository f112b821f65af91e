"""The RQ classes jobdesk runs with: set in ``settings.RQ`` so that ``manage.py rqworker`` and
``manage.py rqscheduler`` use them without extra flags.

- JSON only: the worker, its jobs and the scheduler's jobs use ``JSONSerializer`` whatever the command
  line says (``rqworker`` passes the pickle serializer explicitly; see NOTES.md). A pickled job cannot
  even be decoded, so it is never executed.
- Only ledger jobs run: a job whose function is not ``jobs.runner.run_job`` is refused.
- Short heartbeats (``QUEUE_JOB_HEARTBEAT`` + ``QUEUE_HEARTBEAT_GRACE`` instead of RQ's fixed 60 s), so
  that a SIGKILLed worker's job is seen abandoned, and reconciled, within seconds.
"""

import logging

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

from jobs.dispatch import RUNNER

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


class _JobdeskWorkerMixin:
    def __init__(self, *args, **kwargs):
        kwargs["serializer"] = JSONSerializer
        kwargs["job_class"] = Job
        kwargs.setdefault("job_monitoring_interval", settings.QUEUE_JOB_HEARTBEAT)
        kwargs.setdefault("maintenance_interval", max(5, settings.QUEUE_JOB_HEARTBEAT))
        kwargs.setdefault("default_result_ttl", settings.QUEUE_RESULT_TTL)
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job):
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + settings.QUEUE_HEARTBEAT_GRACE
        return self.job_monitoring_interval + settings.QUEUE_HEARTBEAT_GRACE


class Worker(_JobdeskWorkerMixin, RQWorker):
    """A forking worker (RQ's default): each job runs in a child process."""

    def perform_job(self, job, queue):
        try:
            return super().perform_job(job, queue)
        finally:
            if self._is_horse:
                # The child opened its own database connection; close it cleanly before os._exit.
                connections.close_all()


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
