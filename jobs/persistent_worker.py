"""A worker whose jobs run in one long-lived work process, forked once and reused, instead of a fork per job.

A freshly forked Django process runs the ledger's statements 3-5 times slower than a long-lived one
(copy-on-write faults on everything it touches; NOTES.md), and the fork itself costs more than a short
job. So this worker forks its work process once, after Django and every job module are imported, and
hands it one job at a time through a pipe; the process runs the job exactly as RQ's work horse would
(``perform_job``: timeouts, retries, the job's Redis bookkeeping) and answers one byte when it is done.

What RQ's forking worker promises still holds, because the worker around the process is RQ's own
(``monitor_work_horse``): heartbeats while a job runs, the stop command of ``cancel_job`` (it kills the
process), `rq suspend`, paused queues, and a job that overruns its timeout so badly that the process
cannot stop it itself is stopped by killing the process ``QUEUE_TIMEOUT_GRACE`` seconds past its timeout
(RQ waits 60 s), its attempt recorded as timed out. A process that dies, or is
killed, is replaced at the next job; the job it held is failed in RQ and its ledger record found lost by
the reconciler (then retried or dead as declared). The process retires after ``QUEUE_WORKER_MAX_JOBS``
jobs or once it holds more than ``QUEUE_WORKER_MAX_MEMORY_MB``, and is replaced at the next job.

Database connections: the worker closes its own before it forks, so the process opens its own and
keeps it across jobs (``CONN_MAX_AGE``); one left inside a transaction by a job is closed.
"""

import contextlib
import logging
import os
import random
import resource
import select
import signal
import time

from django.conf import settings
from django.db import close_old_connections, connections
from rq import Worker as RQWorker
from rq.executions import Execution

from jobs.rq_internals import WorkerOverrides

log = logging.getLogger(__name__)

DONE, RETIRING = b"0", b"R"


def _rss_mb():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak, which only grows
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PersistentWorker(WorkerOverrides, RQWorker):
    """``manage.py rqworker --worker-class jobs.worker.PersistentWorker``: see the module's docstring."""

    _process_pid = 0
    _to_process = None
    _from_process = None
    _deadline = None
    _job_timeout = None
    _overran = None

    # -- the worker's side ----------------------------------------------------------------------------

    def fork_work_horse(self, job, queue):
        if not self._process_pid:
            self._start_process()
        timeout = job.timeout if job.timeout and job.timeout > 0 else None
        self._deadline = time.monotonic() + timeout + settings.QUEUE_TIMEOUT_GRACE if timeout else None
        self._job_timeout = timeout
        os.environ["RQ_JOB_ID"] = job.id
        self._horse_pid = self._process_pid
        message = f"{job.id} {queue.name} {self.execution.id if self.execution else '-'}\n".encode()
        try:
            os.write(self._to_process, message)
        except BrokenPipeError:  # it died while idle: wait_for_horse reaps it and RQ fails the job
            pass
        self.procline(f"Job {job.id} in work process {self._process_pid} since {time.time()}")

    def _start_process(self):
        # The work process must not share the worker's database connection, nor keep the ends of the
        # pipes that are not its own (else it would never see the worker go away).
        connections.close_all()
        job_read, job_write = os.pipe()
        done_read, done_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(job_write)
            os.close(done_read)
            os.setpgrp()
            self._process_main(job_read, done_write)
            os._exit(0)
        os.close(job_read)
        os.close(done_write)
        self._process_pid, self._to_process, self._from_process = pid, job_write, done_read
        log.info("worker %s: work process %d started", self.name, pid)

    def wait_for_horse(self):
        """Block until the work process reports the job done, or dies, or overruns the job's timeout by
        ``QUEUE_TIMEOUT_GRACE`` (the process stops a job at its timeout itself, unless the job is stuck
        where Python cannot interrupt it): then kill it. RQ's monitor interrupts this for heartbeats, as
        it does ``os.wait4`` on a horse."""
        pid = self._process_pid
        answer = b""
        while pid:
            wait = None if self._deadline is None else self._deadline - time.monotonic()
            if wait is not None and wait <= 0:
                log.warning("worker %s: job %s overran its %ss timeout; killing work process %d", self.name,
                            os.environ.get("RQ_JOB_ID"), self._job_timeout, pid)
                self._overran = os.environ.get("RQ_JOB_ID")
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                break
            if select.select([self._from_process], [], [], wait)[0]:
                answer = os.read(self._from_process, 1)
                break
        if answer == DONE:
            return pid, os.EX_OK, None
        status, rusage = self._reap(pid)
        return pid, (os.EX_OK if answer == RETIRING else status), rusage

    def _reap(self, pid):
        status = rusage = None
        with contextlib.suppress(ChildProcessError):
            _, status, rusage = os.wait4(pid, 0)
        self._forget_process()
        return status, rusage

    def _forget_process(self):
        for fd in (self._to_process, self._from_process):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._process_pid, self._to_process, self._from_process = 0, None, None

    def monitor_work_horse(self, job, queue):
        super().monitor_work_horse(job, queue)  # RQ fails a killed process's job in Redis first
        if self._overran == job.id:
            self._overran = None
            from jobs.reconciler import record_timed_out

            try:
                record_timed_out(job.id, settings.QUEUE_TIMEOUT_GRACE)
            except Exception:  # the reconciler will find the record lost instead
                log.exception("worker %s: could not record job %s as timed out", self.name, job.id)

    def teardown(self):
        """End the idle work process with the worker: its pipe closes, it exits; killed if it lingers."""
        pid = self._process_pid
        if pid and not self.is_horse:
            with contextlib.suppress(OSError):
                os.close(self._to_process)
            self._to_process = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        break
                time.sleep(0.05)
            else:
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            self._forget_process()
        return super().teardown()

    # -- the work process's side -----------------------------------------------------------------------

    def _process_main(self, job_read, done_write):
        random.seed()
        self.setup_work_horse_signals()
        self._is_horse = True
        done = 0
        pending = b""
        while True:
            while b"\n" not in pending:
                chunk = os.read(job_read, 4096)
                if not chunk:
                    os._exit(0)  # the worker is gone
                pending += chunk
            line, pending = pending.split(b"\n", 1)
            job_id, queue_name, execution_id = line.decode().split()
            try:
                self._run_one(job_id, queue_name, execution_id)
            except BaseException:  # noqa: BLE001 - as RQ's horse: any escape ends the process, non-zero
                log.exception("work process %d: job %s escaped perform_job", os.getpid(), job_id)
                os._exit(1)
            done += 1
            retire = done >= settings.QUEUE_WORKER_MAX_JOBS or _rss_mb() > settings.QUEUE_WORKER_MAX_MEMORY_MB
            os.write(done_write, RETIRING if retire else DONE)
            if retire:
                log.info("work process %d retires after %d jobs (%.0f MB)", os.getpid(), done, _rss_mb())
                os._exit(0)

    def _run_one(self, job_id, queue_name, execution_id):
        close_old_connections()
        job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        queue = self.queue_class(queue_name, connection=self.connection, serializer=self.serializer,
                                 job_class=self.job_class)
        self.execution = Execution(id=execution_id, job_id=job_id, connection=self.connection) \
            if execution_id != "-" else None
        os.environ["RQ_JOB_ID"] = job_id
        self.perform_job(job, queue)
        for connection in connections.all(initialized_only=True):
            info = getattr(connection.connection, "info", None)  # psycopg's; SQLite has none
            if connection.in_atomic_block or (info is not None and info.transaction_status):
                connection.close()
