"""A work process's finish group: the end of a job that succeeded is written, and acknowledged to RQ,
by a writer thread while the work process goes on to its next job.

Why: writing a short job's end is a statement and a commit (0.6-0.8 ms measured here), and RQ's
acknowledgement another round trip; waited for in line, they are a quarter of a no-op job's time in the
default worker. Beside the next job's dequeue and claim they cost the work process almost nothing.

How: the runner hands a succeeded job's end (``states.prepare_finish``) to the group (``defer``), the
worker hands it RQ's acknowledgement of that job (``hold_ack``), and ``release`` marks the job's turn
over; the writer writes every released end in one transaction (``states.write_finishes``), then
acknowledges those jobs to RQ. Ends that gather while a commit is in flight go together in the next one
(at most ``MAX_GROUP``): group commit without a timer, so an end waits at most for the commit before it.

Promised:
- a job is acknowledged to RQ only once its end is durable;
- the next job's code starts only once every earlier end is written (``wait_written``, called by the
  runner after its claim): a job that crashes its process never costs an earlier job its outcome;
- the group is drained before the work process leaves (retirement, a stop, a burst's end, a cancel);
- a work process killed from outside with an end not yet written leaves that record running: the
  reconciler records the attempt as lost and runs the job again, as for any job a crash interrupts;
- a database that does not answer holds the writer, which retries with backoff; the work process takes
  no job meanwhile (``wait_written``).

Only succeeded ends are grouped: a failure, a retry, a dead job or a cancel is written at once, as by
any worker. Outside a work process (``open`` not called) ``defer`` declines and nothing changes.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.db import DatabaseError, InterfaceError, close_old_connections, connections

from jobs import states

log = logging.getLogger(__name__)

MAX_GROUP = 64
RETRY_BACKOFF = (0.05, 2.0, 2.0)  # first wait, factor, longest (seconds)

_group = None


@dataclass
class _Entry:
    finish: states.Finish
    job_id: str
    ack: object = None
    released: bool = False


class FinishGroup:
    def __init__(self):
        self._cond = threading.Condition()
        self._entries = []  # in the order the jobs ended
        self._closed = False
        self._thread = threading.Thread(target=self._write_forever, name="finish-group", daemon=True)
        self._thread.start()

    def defer(self, finish, job_id):
        with self._cond:
            self._entries.append(_Entry(finish, job_id))

    def holds(self, job_id):
        with self._cond:
            return any(entry.job_id == job_id and not entry.released for entry in self._entries)

    def hold_ack(self, job_id, ack):
        """``ack()`` (RQ's acknowledgement of ``job_id``) runs once that job's end is written; False when
        the job's end is not in the group (acknowledge it at once)."""
        with self._cond:
            for entry in self._entries:
                if entry.job_id == job_id and not entry.released:
                    entry.ack = ack
                    return True
        return False

    def release(self, job_id):
        """The job's turn is over: its end (and acknowledgement, if given) may be written."""
        with self._cond:
            for entry in self._entries:
                if entry.job_id == job_id:
                    entry.released = True
            self._cond.notify_all()

    def wait_written(self, timeout=None):
        """Block until every released end is written; False if ``timeout`` ran out first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while any(entry.released for entry in self._entries):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout=None):
        """Write what is left (every end is released first) and stop the writer."""
        with self._cond:
            for entry in self._entries:
                entry.released = True
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _take(self):
        with self._cond:
            while True:
                ready = [entry for entry in self._entries if entry.released][:MAX_GROUP]
                if ready or self._closed:
                    return ready
                self._cond.wait()

    def _write_forever(self):
        try:
            while True:
                batch = self._take()
                if not batch:
                    return
                try:
                    self._write(batch)
                except Exception:  # a listener's bug: those records stay running, the reconciler finds them
                    log.exception("finish group: %d job end(s) could not be written", len(batch))
                taken = {id(entry) for entry in batch}
                with self._cond:
                    self._entries = [entry for entry in self._entries if id(entry) not in taken]
                    self._cond.notify_all()
        finally:
            connections.close_all()

    def _write(self, batch):
        delay = RETRY_BACKOFF[0]
        while True:
            try:
                written = states.write_finishes([entry.finish for entry in batch])
                break
            except (DatabaseError, InterfaceError) as exc:
                log.warning("finish group: %d job end(s) not written yet, database unavailable (%s); "
                            "retrying in %.2fs", len(batch), exc, delay)
                close_old_connections()
                connections["default"].close()
                time.sleep(delay)
                delay = min(delay * RETRY_BACKOFF[1], RETRY_BACKOFF[2])
        for entry, won in zip(batch, written):
            record, attempt = entry.finish.record, entry.finish.attempt
            if won:
                log.info("job %s (%s) succeeded on attempt %d", record.pk, record.job_type, attempt.number)
            if entry.ack is not None:
                try:
                    entry.ack()
                except Exception:  # RQ's side is set right by its maintenance and the reconciler
                    log.warning("finish group: job %s not acknowledged to RQ", entry.job_id, exc_info=True)


def open_group():
    """Start this process's finish group (the default worker's work process does, once)."""
    global _group
    _group = FinishGroup()
    return _group


def close_group(timeout=None):
    global _group
    group, _group = _group, None
    return group.close(timeout) if group is not None else True


def defer(finish, job_id):
    """Hand ``finish`` (a succeeded end of RQ job ``job_id``) to this process's group; False when there
    is none (the caller writes it at once)."""
    if _group is None or not job_id:
        return False
    _group.defer(finish, job_id)
    return True


def holds(job_id):
    """Whether the end of RQ job ``job_id``, still in hand, waits in this process's group."""
    return _group is not None and _group.holds(job_id)


def hold_ack(job_id, ack):
    return _group is not None and _group.hold_ack(job_id, ack)


def release(job_id):
    if _group is not None:
        _group.release(job_id)


def wait_written(timeout=None):
    return _group.wait_written(timeout) if _group is not None else True
