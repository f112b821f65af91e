"""The worker pool behind ``manage.py jobs_workers``: ``QUEUE_CONCURRENCY_<DOMAIN>`` worker processes
per domain, each running ``manage.py rqworker`` on that domain's queues (high first) with RQ's scheduler.

The workers are forked from the pool, once Django, the worker classes and every job module are imported
there (``ForkedWorker``), rather than started as new interpreters: each would import them all again
(0.5 s of CPU, measured here), and N workers starting together on a small host waited for each other;
forked, they start in milliseconds, share the pool's pages until they write them, and a replacement for
a dead worker is at work at once.

What it promises:
- a worker process that dies (a crash, an OOM kill, an error RQ does not survive) is started again
  at once, then with a growing pause (up to ``RESTART_BACKOFF[1]`` s) while it keeps dying young;
- on SIGTERM or SIGINT every worker is asked for a warm shutdown (RQ finishes the job in hand) and
  given ``QUEUE_SHUTDOWN_GRACE`` seconds; what is still running then is killed, work horses included,
  and the reconciler records those attempts as lost and runs the jobs again;
- the workers stay in the pool's process group, so that a host crash (or ``kill -9 -<pgid>``) takes
  them all, and each dies with the pool (``PR_SET_PDEATHSIG`` on Linux): a pool SIGKILLed alone leaves
  no worker running unsupervised beside the next pool's.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from jobs.connection import domain_queue_names
from jobs.work_process import die_with_parent

log = logging.getLogger(__name__)

POLL = 0.5
# A worker that lived less than YOUNG seconds died young; restart pause: first, longest (seconds).
YOUNG = 10
RESTART_BACKOFF = (1, 30)


@dataclass
class Slot:
    """One place in the pool: its domain, the process filling it, and how it has fared."""

    domain: str
    index: int
    proc: "ForkedWorker | None" = None
    started_at: float = 0.0
    pause: float = 0.0
    restart_at: float = 0.0
    restarts: int = field(default=0)

    @property
    def name(self):
        return f"{self.domain}-{self.index}"


def worker_arguments(domain, extra_args=()):
    """``manage.py rqworker``'s arguments for a worker of ``domain``."""
    return ["rqworker", *domain_queue_names(domain), "--with-scheduler", *extra_args]


def prepare_to_fork():
    """Import in the pool what every worker runs, so that each forked worker finds it imported."""
    from django.core.management import load_command_class
    from django.utils.module_loading import import_string

    load_command_class("jobs", "rqworker")
    import_string(settings.RQ["WORKER_CLASS"])


class ForkedWorker:
    """A worker process forked from the pool, running ``manage.py rqworker`` with ``arguments``; with the
    part of ``subprocess.Popen``'s interface the pool uses (``pid``, ``poll``, ``wait``, ``returncode``)."""

    def __init__(self, arguments):
        from django.db import connections

        connections.close_all()  # never share a database connection across a fork
        sys.stdout.flush()
        sys.stderr.flush()
        pool = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._child(arguments, pool)  # never returns
        self.pid, self.args, self.returncode = pid, arguments, None

    @staticmethod
    def _child(arguments, pool):
        code = 1
        try:
            die_with_parent()
            if os.getppid() != pool:  # the pool died before the line above: nothing would stop this worker
                os._exit(1)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool's handlers are not the worker's
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            from django.core.management import call_command

            call_command(*arguments)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - nothing may return into the pool's loop
            log.exception("jobs_workers: worker %s failed", " ".join(arguments))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: gone all the same
                pid, status = self.pid, 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.05)
        return self.returncode


class Pool:
    def __init__(self, domains=None, *, grace=None, extra_args=()):
        domains = domains or settings.QUEUE_DOMAINS
        self.slots = [Slot(domain, i) for domain in domains for i in range(settings.QUEUE_CONCURRENCY[domain])]
        self.grace = settings.QUEUE_SHUTDOWN_GRACE if grace is None else grace
        self.extra_args = tuple(extra_args)
        self.stopping = False

    def run(self):
        """Start every slot and keep it filled until SIGTERM or SIGINT; returns the exit status."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        prepare_to_fork()
        for slot in self.slots:
            self._start(slot)
        log.info("jobs_workers: %d worker(s): %s", len(self.slots), ", ".join(s.name for s in self.slots))
        while not self.stopping:
            self._tend(time.monotonic())
            time.sleep(POLL)
        return self._shutdown()

    def _stop(self, signum, _frame):
        log.info("jobs_workers: %s received, stopping", signal.Signals(signum).name)
        self.stopping = True

    def _start(self, slot):
        slot.proc = ForkedWorker(worker_arguments(slot.domain, self.extra_args))
        slot.started_at = time.monotonic()

    def _tend(self, now):
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                continue
            if slot.proc is not None:  # it just died: decide when to start it again
                lived = now - slot.started_at
                slot.pause = 0 if lived >= YOUNG else min(max(slot.pause * 2, RESTART_BACKOFF[0]), RESTART_BACKOFF[1])
                slot.restart_at = now + slot.pause
                log.warning("jobs_workers: worker %s (pid %d) exited with %s after %.1fs; starting it again in %ss",
                            slot.name, slot.proc.pid, slot.proc.returncode, lived, slot.pause)
                slot.proc = None
            if now >= slot.restart_at:
                slot.restarts += 1
                self._start(slot)

    def _shutdown(self):
        running = [slot.proc for slot in self.slots if slot.proc is not None and slot.proc.poll() is None]
        for proc in running:
            _signal(proc.pid, signal.SIGTERM)  # RQ's warm shutdown: the job in hand finishes
        deadline = time.monotonic() + self.grace
        for proc in running:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("jobs_workers: worker pid %d still busy after %ss; killing it and its job", proc.pid,
                            self.grace)
                for pid in [*descendants(proc.pid), proc.pid]:
                    _signal(pid, signal.SIGKILL)
                proc.wait()
        log.info("jobs_workers: stopped")
        return 0


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def descendants(pid):
    """Every process below ``pid``, children of all its threads, recursively (RQ puts each work horse in
    a process group of its own, so a group kill misses it)."""
    found = []
    for path in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = path.read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found
