"""The default worker: RQ's work loop runs in one long-lived work process, SimpleWorker-style, under a
thin supervising parent, instead of a fork per job or a hand-off per job.

Why: a freshly forked Django process runs the ledger's statements 3-5 times slower than a long-lived one
(copy-on-write faults on everything it touches; NOTES.md), and the fork itself costs more than a short
job; handing each job to a reused process through a pipe and waiting for its answer still put two
cross-process wake-ups and a ``Job.fetch`` on every job's critical path. So the parent forks the work
process once, after Django and every job module are imported, and the work process dequeues, prepares,
performs and finishes its jobs itself, exactly as RQ's ``SimpleWorker`` does: nothing waits on another
process between two jobs.

What the parent does, never on a job's critical path:

- The work process tells it, through a pipe and without waiting for an answer, when a job starts (its
  id, execution id, timeout and queue) and when it ends. While a job runs, the parent keeps the job's,
  its execution's and the worker's heartbeats fresh and short-lived on the work process's behalf (RQ's
  ``maintain_heartbeats``, TTL ``QUEUE_JOB_HEARTBEAT`` + ``QUEUE_HEARTBEAT_GRACE``): a long job is never
  taken for abandoned, and a host that dies (both SIGKILLed) is seen within seconds.
- A job that overruns its timeout by ``QUEUE_TIMEOUT_GRACE`` (stuck where SIGALRM cannot interrupt it)
  is stopped by killing the work process; the attempt is recorded as timed out (``record_timed_out``).
- A work process that dies mid-job (``os._exit``, a segfault, an OOM kill, the stop command of a
  cancel) has its job failed in RQ as RQ's ``monitor_work_horse`` would ("stopped by user" for the stop
  command), so the reconciler finds the ledger's attempt lost (or the cancel stands); then a new work
  process starts, under the same RQ worker name.
- The work process retires after ``QUEUE_WORKER_MAX_JOBS`` jobs or once it holds more than
  ``QUEUE_WORKER_MAX_MEMORY_MB``, and is replaced at once.
- SIGTERM or SIGINT: a warm shutdown is forwarded to the work process (it finishes the job in hand) and
  the parent exits after it; a second signal kills the work process (cold shutdown). In burst mode, and
  after ``--max-jobs``, the work process ends its loop and the parent exits with it.
- ``--with-scheduler``: RQ's scheduler belongs to the parent (started, and started again if it dies,
  there), so a replaced work process never starts or duplicates one; it dies with the parent.

The work process obeys `rq suspend`, paused queues and RQ's commands itself (it is the subscribed
worker); the stop command of a cancel ends the work process (never its process group's other members).
It dies with its parent (``PR_SET_PDEATHSIG`` on Linux, and a check of its parent between jobs).

Database connections: the parent closes its own before it forks, so the work process opens its own and
keeps it across jobs (``CONN_MAX_AGE``); one left inside a transaction by a job is closed.
"""

import contextlib
import logging
import os
import select
import signal
import time
from dataclasses import dataclass
from multiprocessing import get_context

from django.conf import settings
from django.db import connections
from rq import SimpleWorker as RQSimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import JobStatus
from rq.logutils import setup_loghandlers
from rq.scheduler import RQScheduler
from rq.scheduler import run as run_scheduler
from rq.utils import now
from rq.worker.base import DequeueStrategy

from jobs.rq_internals import REDIS_DOWN, WorkerOverrides
from jobs.work_process import WorkProcessSide, die_with_parent

log = logging.getLogger(__name__)

# Pause before starting again a work process that died young (seconds): first, longest.
RESTART_BACKOFF = (0.5, 10)
YOUNG = 2.0
# The parent reads the work process's news at most this often (seconds): a few jobs' lines per wake-up.
COALESCE = 0.02


def _run_scheduler_with_parent(scheduler):
    die_with_parent()
    return run_scheduler(scheduler)


class _Scheduler(RQScheduler):
    """RQ's scheduler process, except that it dies with the worker that started it: orphaned by a SIGKILLed
    worker, it went on moving that worker's scheduled jobs for ever."""

    def start(self):
        self._status = self.Status.STARTED
        self._connection = None  # as RQ: a Redis connection is not carried across the fork
        self._process = get_context("fork").Process(target=_run_scheduler_with_parent, args=(self,),
                                                    name="Scheduler")
        self._process.start()
        return self._process


@dataclass
class _Running:
    """The job the work process said it started, as the parent tracks it."""

    job_id: str
    execution_id: str
    timeout: int
    origin: str
    started: float
    next_beat: float
    deadline: float | None


class PersistentWorker(WorkProcessSide, WorkerOverrides, RQSimpleWorker):
    """``manage.py rqworker`` (the default ``RQ["WORKER_CLASS"]``): see the module's docstring. This class
    holds the parent's side; the work process's is ``jobs.work_process.WorkProcessSide``."""

    _overran = None

    # -- the parent ----------------------------------------------------------------------------------

    def work(self, burst=False, logging_level=None, date_format=DEFAULT_LOGGING_DATE_FORMAT,
             log_format=DEFAULT_LOGGING_FORMAT, max_jobs=None, max_idle_time=None, with_scheduler=False,
             dequeue_strategy=DequeueStrategy.DEFAULT):
        if self._in_work_process:
            return super().work(burst=burst, logging_level=logging_level, date_format=date_format,
                                log_format=log_format, max_jobs=max_jobs, max_idle_time=max_idle_time,
                                with_scheduler=False, dequeue_strategy=dequeue_strategy)
        setup_loghandlers(logging_level, date_format, log_format, name="rq.worker")
        setup_loghandlers(logging_level, date_format, log_format, name="rq.job")
        self.birth_date = self.last_heartbeat = now()  # the worker's hash, should a heartbeat re-create it
        self._work_args = {"burst": burst, "logging_level": logging_level, "date_format": date_format,
                           "log_format": log_format, "max_idle_time": max_idle_time,
                           "dequeue_strategy": dequeue_strategy}
        self._jobs_left = max_jobs
        self._process_pid = 0
        self._stopping = self._cold = False
        self._stopping_at = 0.0
        self._worked = False
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        if with_scheduler:
            self._start_scheduler(burst, logging_level, date_format, log_format)
        pause = 0.0
        try:
            while not self._stopping:
                started = time.monotonic()
                outcome = self._run_work_process()
                if outcome == "quit" or self._stopping or (self._jobs_left is not None and self._jobs_left <= 0):
                    break
                if outcome == "retired" or time.monotonic() - started >= YOUNG:
                    pause = 0.0
                else:  # died young (Redis away at start-up, a crash on import): do not spin
                    pause = min(max(pause * 2, RESTART_BACKOFF[0]), RESTART_BACKOFF[1])
                    log.warning("worker %s: work process died young; starting another in %.1fs", self.name, pause)
                    self._sleep(pause)
        finally:
            self._teardown_parent()
        return self._worked

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=DEFAULT_LOGGING_DATE_FORMAT,
                         log_format=DEFAULT_LOGGING_FORMAT):
        """RQ's, with a scheduler process that dies with this worker (``_Scheduler``)."""
        self.scheduler = _Scheduler(self.queues, connection=self.connection,
                                    logging_level=logging_level if logging_level is not None else self.log.level,
                                    date_format=date_format, log_format=log_format, serializer=self.serializer)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def _sleep(self, seconds):
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, deadline - time.monotonic()))

    def _on_stop_signal(self, signum, _frame):
        if not self._stopping:
            self._stopping, self._stopping_at = True, time.monotonic()
            log.info("worker %s: %s received, warm shut down: the job in hand finishes", self.name,
                     signal.Signals(signum).name)
            self._signal_process(signal.SIGTERM)
            return
        if time.monotonic() - self._stopping_at < 1:  # the same Ctrl-C seen twice (a pool and the terminal)
            return
        log.warning("worker %s: cold shut down: killing the work process", self.name)
        self._cold = True
        self._signal_process(signal.SIGKILL)

    def _signal_process(self, signum):
        pid = self._process_pid
        if not pid:
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signum)
        if signum == signal.SIGKILL:  # and whatever its job started in its process group
            with contextlib.suppress(OSError):
                os.killpg(pid, signum)

    def _run_work_process(self):
        """Fork one work process and watch it until it exits: ``"retired"``, ``"quit"`` (its loop ended:
        burst, --max-jobs, a shutdown) or ``"died"``."""
        connections.close_all()  # the work process opens its own; never share one across a fork
        read_fd, write_fd = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            self._work_process_main(write_fd, parent)  # never returns
        os.close(write_fd)
        self._process_pid = pid
        if self._stopping:  # a stop signal came during the fork
            self._signal_process(signal.SIGTERM)
        log.info("worker %s: work process %d started", self.name, pid)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux 5.3+: poll for its exit
            pidfd = None
        try:
            return self._watch(pid, read_fd, pidfd)
        finally:
            for fd in (read_fd, pidfd):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._process_pid = 0

    def _watch(self, pid, read_fd, pidfd):
        running, stopped_job, said, buffer = None, None, None, b""
        status = rusage = None
        open_pipe = True
        next_check = time.monotonic() + self.maintenance_interval
        while True:
            now_ = time.monotonic()
            waits = [next_check - now_]
            if running is not None:
                waits.append(running.next_beat - now_)
                if running.deadline is not None:
                    waits.append(running.deadline - now_)
            if pidfd is None:
                waits.append(0.5)
            watched = [fd for fd in ((read_fd if open_pipe else None), pidfd) if fd is not None]
            ready = select.select(watched, [], [], max(0.0, min(waits)))[0]
            if read_fd in ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    open_pipe = False
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    running, stopped_job, said = self._heard(line.decode().split(), running, stopped_job, said)
                if open_pipe and (running is None or running.deadline is None
                                  or running.deadline - time.monotonic() > COALESCE):
                    time.sleep(COALESCE)  # one wake-up for many short jobs, never a wait of the work process's
            exited, status, rusage = self._reap(pid, block=pidfd in ready or not open_pipe)
            if exited:
                if open_pipe:  # what it said just before it exited
                    while select.select([read_fd], [], [], 0)[0] and (chunk := os.read(read_fd, 65536)):
                        buffer += chunk
                    for line in buffer.split(b"\n"):
                        if line:
                            running, stopped_job, said = self._heard(line.decode().split(), running, stopped_job,
                                                                     said)
                break
            now_ = time.monotonic()
            if running is not None and running.deadline is not None and now_ >= running.deadline:
                log.warning("worker %s: job %s overran its %ss timeout by %ss; killing work process %d", self.name,
                            running.job_id, running.timeout, settings.QUEUE_TIMEOUT_GRACE, pid)
                self._overran = running.job_id
                running.deadline = None
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                continue
            if running is not None and now_ >= running.next_beat:
                running.next_beat = now_ + self.job_monitoring_interval
                self._beat(running)
            if now_ >= next_check:
                next_check = now_ + self.maintenance_interval
                self._tend_scheduler()
        if running is not None:
            self._fail_lost_job(running, stopped_job, pid, status, rusage)
        if said != "quit" and said != "retired" or running is not None:
            self._forget_worker_key()  # it could not register its death; the next one must be let in
        return said if said in ("quit", "retired") else "died"

    def _heard(self, words, running, stopped_job, said):
        """One line from the work process: ``S <job> <execution> <timeout> <queue> <started, monotonic>``, ``E <job>``, ``K <job>``
        (the stop command, it is about to die), ``R`` (retiring), ``Q`` (its work loop ended)."""
        kind = words[0] if words else ""
        if kind == "S":
            job_id, execution_id, timeout, origin, started = words[1:6]
            timeout, started = int(timeout), float(started)  # CLOCK_MONOTONIC: one clock for both processes
            deadline = started + timeout + settings.QUEUE_TIMEOUT_GRACE if timeout > 0 else None
            running = _Running(job_id, execution_id, timeout, origin, started,
                               started + self.job_monitoring_interval, deadline)
            self._worked = True
        elif kind == "E":
            running = None
            if self._jobs_left is not None:
                self._jobs_left -= 1
        elif kind == "K":
            stopped_job = words[1]
        elif kind == "R":
            said = "retired"
        elif kind == "Q":
            said = "quit"
        return running, stopped_job, said

    @staticmethod
    def _reap(pid, *, block):
        try:
            waited, status, rusage = os.wait4(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return True, None, None
        return (waited == pid), status, rusage

    def _beat(self, running):
        """RQ's heartbeats of a running job, sent by the parent on the work process's behalf."""
        job = self.job_class(id=running.job_id, connection=self.connection)
        job.origin, job.timeout = running.origin, running.timeout
        self.execution = Execution(id=running.execution_id, job_id=running.job_id, connection=self.connection)
        self.set_current_job_working_time(time.monotonic() - running.started)
        self.maintain_heartbeats(job)
        self.execution = None

    def _fail_lost_job(self, running, stopped_job, pid, status, rusage):
        """The work process died with a job in hand: fail it in RQ as ``monitor_work_horse`` does."""
        try:
            job = self.job_class.fetch(running.job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            job = None
        except REDIS_DOWN as exc:
            log.warning("worker %s: could not fail job %s in RQ, Redis unavailable: %s", self.name, running.job_id,
                        exc)
            job = None
        if job is not None:
            queue = self.queue_class(running.origin, connection=self.connection, serializer=self.serializer,
                                     job_class=self.job_class)
            self.execution = Execution(id=running.execution_id, job_id=job.id, connection=self.connection)
            try:
                if stopped_job == job.id:
                    log.warning("worker %s: job %s stopped by user, moving job to FailedJobRegistry", self.name,
                                job.id)
                    self._stopped_job_id = job.id
                    if job.stopped_callback:
                        job.execute_stopped_callback(self.death_penalty_class)
                    self.handle_job_failure(job, queue=queue,
                                            exc_string="Job stopped by user, work-horse terminated.")
                elif job.get_status() not in (JobStatus.FINISHED, JobStatus.FAILED):
                    job.ended_at = now()
                    if self._overran == job.id:  # killed on purpose, and said so: recorded as timed out below
                        exc_string = f"stopped by its worker past its {running.timeout}s timeout"
                    else:
                        signal_msg = f" (signal {os.WTERMSIG(status)})" if status and os.WIFSIGNALED(status) else ""
                        exc_string = f"Work-horse terminated unexpectedly; waitpid returned {status}{signal_msg}; "
                        log.warning("worker %s: job %s failed (%s)", self.name, job.id, exc_string)
                        self.handle_work_horse_killed(job, pid, status, rusage)
                    self.handle_job_failure(job, queue=queue, exc_string=exc_string)
            except Exception:  # the reconciler finds the record lost anyway
                log.exception("worker %s: could not fail job %s in RQ", self.name, job.id)
            finally:
                self.execution = None
                self._stopped_job_id = None
        if self._overran == running.job_id:
            self._overran = None
            from jobs.reconciler import record_timed_out

            try:
                record_timed_out(running.job_id, settings.QUEUE_TIMEOUT_GRACE)
            except Exception:  # the reconciler will find the record lost instead
                log.exception("worker %s: could not record job %s as timed out", self.name, running.job_id)
        connections.close_all()

    def _forget_worker_key(self):
        try:
            self.register_death()
        except REDIS_DOWN as exc:
            log.warning("worker %s: could not clear the dead work process's key: %s", self.name, exc)

    def _tend_scheduler(self):
        """RQ's scheduler lives in the parent: start it again (if this worker can take its lock) when it died."""
        scheduler = self.scheduler
        if scheduler is None or self._work_args["burst"] or (scheduler._process and scheduler._process.is_alive()):
            return
        try:
            scheduler.acquire_locks(auto_start=True)
        except REDIS_DOWN as exc:
            log.warning("worker %s: scheduler not restarted, Redis unavailable: %s", self.name, exc)

    def _teardown_parent(self):
        pid = self._process_pid
        if pid:  # an exception in the parent: the work process must not outlive it
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self._process_pid = 0
        if self.scheduler:
            with contextlib.suppress(Exception):
                self.stop_scheduler()
        try:
            self.register_death()
        except REDIS_DOWN as exc:
            log.warning("worker %s: could not register its death: %s", self.name, exc)
