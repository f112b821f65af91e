"""A work process's finish group: the end of a job that succeeded is written by the next job's claim,
in the same statement and commit, and acknowledged to RQ right after.

Why: a short job's end is a statement and a commit of its own (0.6-0.8 ms measured here), as is the
next job's claim; carried by that claim it costs one statement and one commit for both. No thread: a
thread writing ends beside the next job was tried and cost 17% more CPU in GIL hand-offs for no time
saved on this host.

How: the runner hands a succeeded job's end (``states.prepare_finish``) to the group (``defer``) and the
worker hands it RQ's acknowledgement of that job (``hold_ack``). The next ``run_job`` takes it (``take``)
and gives it to ``states.start_attempt`` as ``after``; then ``settle`` acknowledges it. When no job
follows at once, it is written alone (``flush``): before the worker would block waiting for a job
(``GroupingQueue``), when a job is held back without a claim (rate or concurrency limit), before a cancel
ends the process, and when the work loop ends (retirement, a stop, a burst's end).

Promised:
- a job is acknowledged to RQ only once its end is durable;
- an end waits at most for the next dequeue: the next job's claim, or a flush when there is none;
- the next job's code runs only once the earlier end is written (its claim wrote it): a job that crashes
  its process never costs the job before it its outcome;
- a work process killed from outside between a job's end and the next claim (a millisecond) leaves that
  record running: the reconciler records the attempt as lost and runs the job again, as for any job a
  crash interrupts;
- a claim that fails (the database away) puts the end back, to be written by the next claim or flush.

Only succeeded ends that no listener acts on are carried: a failure, a retry, a dead job, a cancel, or a
change a receiver of ``job_state_changed`` wants, is written at once, as by any worker. Outside a work
process with ``QUEUE_FINISH_GROUP`` on (``open_group`` not called), ``defer`` declines and nothing changes.
"""

import logging
import threading
from dataclasses import dataclass

from jobs import states, waiting

log = logging.getLogger(__name__)

_lock = threading.Lock()  # a cancel's flush comes from RQ's stop-command thread
_open = False
_pending = None


@dataclass
class Carried:
    finish: states.Finish
    job_id: str
    ack: object = None


def open_group():
    """Let this process's succeeded ends be carried (the default worker's work process does, once)."""
    global _open
    _open = True


def close_group():
    """Write what is left and stop carrying."""
    global _open
    flush()
    _open = False


def defer(finish, job_id):
    """Hand ``finish`` (a succeeded end of RQ job ``job_id``) to the group; False when it must be written
    now (no group, an end already waiting, or a listener that wants the change in its transaction)."""
    global _pending
    if not _open or not job_id or states.has_listeners(finish.to, finish.record.job_type):
        return False
    with _lock:
        if _pending is not None:
            return False
        _pending = Carried(finish, job_id)
    return True


def holds(job_id):
    """Whether the end of RQ job ``job_id`` waits in the group without its acknowledgement yet."""
    with _lock:
        return _pending is not None and _pending.job_id == job_id and _pending.ack is None


def hold_ack(job_id, ack):
    """``ack(ends)`` (RQ's acknowledgement of ``job_id``, with the ends to announce in its pipeline) runs
    once that job's end is written."""
    with _lock:
        if _pending is None or _pending.job_id != job_id:
            return False
        _pending.ack = ack
    return True


def pending():
    return _pending is not None


def take():
    """The waiting end, for the next claim to write (None when there is none)."""
    global _pending
    with _lock:
        carried, _pending = _pending, None
    return carried


def put_back(carried):
    """A claim that carried ``carried`` failed before it was written: it waits again."""
    global _pending
    if carried is not None:
        with _lock:
            _pending = carried


def settle(carried, ends=()):
    """After ``carried.finish`` was written (or found finished elsewhere): say so and acknowledge it;
    ``ends`` (``waiting.held_announcements``, kept while it was written) go out with the acknowledgement,
    or alone when there is no carried end or acknowledgement."""
    if carried is None:
        for record_id, status in ends:
            waiting.announce_end(record_id, status)
        return
    finish = carried.finish
    if finish.written:
        log.info("job %s (%s) succeeded on attempt %d", finish.record.pk, finish.record.job_type,
                 finish.attempt.number)
    if carried.ack is None:
        settle(None, ends)
        return
    try:
        carried.ack(ends)
    except Exception:  # RQ's side is set right by its maintenance and the reconciler
        log.warning("job %s not acknowledged to RQ", carried.job_id, exc_info=True)


def flush():
    """Write the waiting end alone, now, and acknowledge it."""
    carried = take()
    if carried is None:
        return
    try:
        with waiting.held_announcements() as ends:
            states.write_finishes([carried.finish])
    except BaseException:
        put_back(carried)
        raise
    settle(carried, ends)


class GroupingQueue:
    """Put before the worker's queue class (``grouping_queue_class``): before it would block waiting for
    a job, the waiting end is written (a job that is there at once takes it with its claim instead)."""

    @classmethod
    def dequeue_any(cls, queues, timeout, *args, **kwargs):
        if timeout is not None and pending():
            found = super().dequeue_any(queues, None, *args, **kwargs)
            if found is not None:
                return found
            flush()
        return super().dequeue_any(queues, timeout, *args, **kwargs)


def grouping_queue_class(queue_class):
    return type(f"Grouping{queue_class.__name__}", (GroupingQueue, queue_class), {})
