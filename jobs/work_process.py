"""The work process's side of the default worker (``jobs.persistent_worker.PersistentWorker``).

The work process runs RQ's own work loop, SimpleWorker-style: it dequeues, prepares, performs and finishes
its jobs itself, so nothing waits on another process between two jobs. What it adds to that loop: a
line to its parent, fire and forget, when a job starts and ends (the parent keeps the job's heartbeats
and watches its timeout); with ``QUEUE_FINISH_GROUP``, a finish group (``jobs.finish_group``): a
succeeded job's end written by the next job's claim, one commit for both; its retirement after ``QUEUE_WORKER_MAX_JOBS`` jobs or above
``QUEUE_WORKER_MAX_MEMORY_MB``; its death with the parent; RQ's stop command (a cancel) ending this
process, never a process group; and four Redis round trips per job fewer than RQ's loop (its two
preparation pipelines and the PERSIST of the job's hash sent as one pipeline, the idle state written once
between two jobs, no last-heartbeat stamp on a success's hash about to be deleted).
"""

import contextlib
import ctypes
import ctypes.util
import logging
import os
import random
import resource
import signal
import time

from django.conf import settings
from django.db import connections
from rq.exceptions import StopRequested
from rq.executions import Execution
from rq.worker.base import WorkerStatus
from rq.utils import now

from jobs import finish_group, waiting
from jobs.rq_internals import intermediate_key

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def _rss_mb():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak, which only grows
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def die_with_parent():
    """Linux: the kernel SIGKILLs this process when its parent dies (a host crash kills both)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the check between jobs still applies
        pass



class WorkProcessSide:
    """The methods the worker runs as its work process (``_in_work_process``); put before RQ's worker
    class in the bases, as ``PersistentWorker`` does."""

    _in_work_process = False
    _to_parent = None
    _parent_pid = 0
    _retiring = False
    _jobs_done = 0
    _state_written = None
    _preparing = None  # prepare_execution's pipeline, executed by prepare_job_execution  # the worker state this process last wrote outside a pipeline

    def _work_process_main(self, write_fd, parent):
        code = 0
        try:
            os.setpgrp()  # signals to the parent's group (a terminal's Ctrl-C) reach the parent alone
            die_with_parent()
            if os.getppid() != parent:
                os._exit(1)
            random.seed()
            self._in_work_process, self._to_parent, self._parent_pid = True, write_fd, parent
            self.scheduler = None  # the parent's
            self._process_pid = 0
            # Until RQ installs its own handlers: a stop asked for now ends the loop before the first job.
            signal.signal(signal.SIGTERM, self._stop_before_start)
            signal.signal(signal.SIGINT, self._stop_before_start)
            if settings.QUEUE_FINISH_GROUP:
                finish_group.open_group()
                self.queue_class = finish_group.grouping_queue_class(self.queue_class)
            self.work(max_jobs=self._jobs_left, **self._work_args)
            finish_group.close_group()
            self._tell("R" if self._retiring else "Q")
        except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code
            with contextlib.suppress(BaseException):
                log.exception("work process %d: the work loop failed", os.getpid())
                finish_group.close_group()
            code = 1
        os._exit(code)

    def _stop_before_start(self, _signum, _frame):
        self._stop_requested = True

    def _tell(self, message):
        """Fire and forget: a line to the parent (a pipe write of a few bytes never waits on it)."""
        try:
            os.write(self._to_parent, f"{message}\n".encode())
        except OSError:  # the parent is gone: stop at the next chance
            self._stop_requested = True

    def prepare_execution(self, job):
        """RQ's, except that its pipeline (the execution, the worker busy) is executed with the job's own
        preparation (``prepare_job_execution``), which follows at once: one round trip for both."""
        if not self._in_work_process:
            return super().prepare_execution(job)
        pipeline = self.connection.pipeline()
        self.execution = Execution.create(job, self.get_heartbeat_ttl(job), pipeline=pipeline, worker_name=self.name)
        self.set_state(WorkerStatus.BUSY, pipeline=pipeline)
        self._preparing = pipeline
        timeout = job.timeout or self.queue_class.DEFAULT_TIMEOUT
        self._tell(f"S {job.id} {self.execution.id} {int(timeout)} {job.origin} {time.monotonic():.6f}")
        return self.execution

    def prepare_job_execution(self, job, remove_from_intermediate_queue=False):
        """RQ's, in the pipeline ``prepare_execution`` started, with the PERSIST of the job's hash that
        RQ's ``Job.perform`` would send alone."""
        pipeline, self._preparing = self._preparing, None
        if pipeline is None:
            return super().prepare_job_execution(job, remove_from_intermediate_queue)
        with pipeline:
            self.set_current_job_id(job.id, pipeline=pipeline)
            self.set_current_job_working_time(0, pipeline=pipeline)
            heartbeat_ttl = self.get_heartbeat_ttl(job)
            self.heartbeat(heartbeat_ttl, pipeline=pipeline)
            job.heartbeat(now(), heartbeat_ttl, pipeline=pipeline)
            job.prepare_for_execution(self.name, pipeline=pipeline)
            if remove_from_intermediate_queue:
                pipeline.lrem(intermediate_key(job.origin), 1, job.id)
            pipeline.persist(job.key)
            pipeline.execute()
        job.persisted = True
        return None

    def perform_job(self, job, queue):
        try:
            return super().perform_job(job, queue)
        finally:
            self._tell(f"E {job.id}")
            for connection in connections.all(initialized_only=True):
                info = getattr(connection.connection, "info", None)  # psycopg's; SQLite has none
                if connection.in_atomic_block or (info is not None and info.transaction_status):
                    connection.close()

    def execute_job(self, job, queue):
        result = super().execute_job(job, queue)
        self._jobs_done += 1
        if self._jobs_done >= settings.QUEUE_WORKER_MAX_JOBS or _rss_mb() > settings.QUEUE_WORKER_MAX_MEMORY_MB:
            log.info("work process %d retires after %d jobs (%.0f MB)", os.getpid(), self._jobs_done, _rss_mb())
            self._retiring = self._stop_requested = True
        return result

    def handle_job_success(self, job, queue, started_job_registry):
        """A job whose end waits in the finish group is acknowledged to RQ once that end is written, by
        the next claim or a flush (``_acknowledge``); the work process only lets go of it here."""
        if not (self._in_work_process and finish_group.holds(job.id)):
            return super().handle_job_success(job, queue, started_job_registry)
        if job.get_result_ttl(self.default_result_ttl) != 0 or job.repeats_left:  # RQ's own path, in line
            finish_group.flush()
            return super().handle_job_success(job, queue, started_job_registry)
        execution, self.execution = self.execution, None
        finish_group.hold_ack(job.id, lambda ends: self._acknowledge(job, execution, ends))
        self.set_current_job_id(None)
        return None

    def _acknowledge(self, job, execution, ends=()):
        """``WorkerOverrides.handle_job_success`` for a job this process has already left behind: the
        execution is the job's own, not the worker's current one; ``ends`` are announced to waiters in the
        same pipeline (``jobs.waiting``)."""
        with self.connection.pipeline() as pipeline:
            waiting.publish_in(pipeline, ends)
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            job.cleanup(0, pipeline=pipeline, remove_from_queue=False)
            if execution is not None:
                execution.delete(job=job, pipeline=pipeline)
            pipeline.execute()
        self.log.debug("Successfully completed %s job in %ss on worker %s", job.description,
                       job.ended_at - job.started_at, self.name)

    def set_state(self, state, pipeline=None):
        """RQ writes the worker's state IDLE after every job and again before every dequeue: the second
        write, the same value in a row, is left out (a round trip per job)."""
        if self._in_work_process and pipeline is None and state == self._state_written:
            return
        super().set_state(state, pipeline)
        self._state_written = state if pipeline is None else None

    def register_birth(self):
        self._state_written = None  # a new worker hash has no state yet
        return super().register_birth()

    def handle_execution_ended(self, job, queue, heartbeat_ttl):
        """RQ stamps the job's hash with a last heartbeat once its code returns; the hash of a success
        whose end waits in the finish group is deleted at its acknowledgement: not stamped (a round trip
        per job)."""
        if (self._in_work_process and finish_group.holds(job.id) and not job.repeats_left
                and job.get_result_ttl(self.default_result_ttl) == 0):
            job.ended_at = now()
            return
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def heartbeat(self, timeout=None, pipeline=None):
        if self._in_work_process and timeout is None and pipeline is None and os.getppid() != self._parent_pid:
            log.warning("work process %d: its worker is gone; stopping", os.getpid())
            self._stop_requested = True
            raise StopRequested()
        return super().heartbeat(timeout, pipeline)

    def unsubscribe(self):
        """RQ waits up to a second for its stop-command thread, which often misses the unsubscription
        while it blocks on Redis: a second lost at every retirement and every burst's end. The work
        process ends right after, and takes the thread (a daemon) with it."""
        if not self._in_work_process:
            return super().unsubscribe()
        if self.pubsub_thread:
            with contextlib.suppress(Exception):  # Redis gone: nothing to unsubscribe from
                self.pubsub.unsubscribe()
            self.pubsub_thread.stop()
        return None

    def kill_horse(self, sig=None):
        """RQ's stop command (a cancel) for the job in hand: end this work process, which is the job's
        "horse"; the parent fails the job in RQ as stopped. Never a signal to a process group."""
        if not self._in_work_process:
            self._signal_process(signal.SIGKILL)
            return
        if self._stopped_job_id:
            with contextlib.suppress(Exception):  # the previous job's end is not the stopped one's
                finish_group.flush()
            self._tell(f"K {self._stopped_job_id}")
            log.warning("work process %d: stopping job %s on request", os.getpid(), self._stopped_job_id)
            os.kill(os.getpid(), signal.SIGKILL)

