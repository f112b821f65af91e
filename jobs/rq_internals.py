"""Everything jobdesk knows of RQ's insides, in one module: what an RQ upgrade must review.

- RQ's Redis key names (``queue_key``, ``wip_key``, …): RQ keeps them in class attributes and private
  helpers; jobdesk reads and cleans them directly (the reconciler, staff services, queue figures).
- ``job_states``: where each of a set of jobs is in RQ right now, read in one atomic snapshot.
- ``forget``: remove every trace RQ holds of a job (queue, intermediate list, registries, hash).
- ``Job``, ``WorkerOverrides`` and ``SchedulerOverrides``: the private RQ (and rq-scheduler) methods
  jobdesk's workers and scheduler override (jobs.worker assembles them into the classes ``rqworker`` and
  ``rqscheduler`` run).

Imports point one way: this module imports RQ, settings and ``jobs.connection``, nothing else of jobs.
"""

import logging
import signal
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.utils import DatabaseError, InterfaceError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import worker_registration
from rq.job import Job as RQJob
from rq.job import _job_stack
from rq.serializers import JSONSerializer
from rq.suspension import WORKERS_SUSPENDED
from rq.registry import clean_registries
from rq.results import Result
from rq.utils import now as rq_now
from rq.utils import parse_composite_key
from rq.utils import utcformat

from jobs.connection import without_client_setinfo
from jobs.errors import JobDied

log = logging.getLogger(__name__)

# The one function every RQ job jobdesk creates calls (jobs.dispatch); workers refuse any other.
RUNNER = "jobs.runner.run_job"
# Seconds an idle worker blocks on its queues before it looks at the paused set again.
PAUSE_POLL = 2
# Backoff while Redis or the database is away: first wait, factor, longest wait (seconds).
RECONNECT_BACKOFF = (0.5, 2, 15)
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


# -- key names ------------------------------------------------------------------------------------

def job_key(job_id):
    return f"rq:job:{job_id}"


def executions_key(job_id):
    return f"rq:executions:{job_id}"


def queue_key(queue):
    return f"rq:queue:{queue}"


def intermediate_key(queue):
    """Where ``BLMOVE`` puts a job a worker has taken and not yet marked started."""
    return f"rq:queue:{queue}:intermediate"


def wip_key(queue):
    """The started registry: ``<job id>:<execution id>`` scored by heartbeat expiry (epoch seconds)."""
    return f"rq:wip:{queue}"


def scheduled_key(queue):
    return f"rq:scheduled:{queue}"


def failed_key(queue):
    return f"rq:failed:{queue}"


def worker_key(name):
    return f"rq:worker:{name}"


def paused_key():
    """jobdesk's own set of paused queue names (``jobs.queues``)."""
    return f"{settings.QUEUE_NAMESPACE}:paused"


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


# -- a job's place in RQ --------------------------------------------------------------------------

@dataclass(frozen=True)
class RQState:
    """Where RQ holds one job: its hash's status (None: no hash), the worker named in it, whether it
    waits in the intermediate list, its scheduled time, and its started-registry heartbeat expiry."""

    status: str | None
    worker: str | None
    taken: bool
    in_queue: bool | None  # None: not looked at (no ``members`` given for its queue)
    scheduled_at: float | None
    heartbeat: float | None
    worker_alive: bool


def queue_members(conn, queues, *, limit=200_000):
    """``{queue: set of the job ids waiting in it}``, or None for a queue longer than ``limit`` (too
    costly to read whole; its jobs are then taken to be waiting)."""
    queues = sorted(queues)
    with conn.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue_key(queue))
        lengths = pipe.execute()
    members = {queue: None for queue, length in zip(queues, lengths) if length > limit}
    readable = [queue for queue in queues if queue not in members]
    with conn.pipeline(transaction=False) as pipe:
        for queue in readable:
            pipe.lrange(queue_key(queue), 0, -1)
        for queue, ids in zip(readable, pipe.execute()):
            members[queue] = {_text(job_id) for job_id in ids}
    return members


def job_states(conn, jobs, *, members=None):
    """``{job id: RQState}`` for ``jobs`` (pairs of job id and queue name), read in one MULTI, so that
    a job moving between RQ's lists while it is read is seen in one place, not in none. ``members``
    (from ``queue_members``, read just before) tells whether each job waits in its queue: RQ pops a
    job from its queue with ``BLPOP`` when a worker listens to several queues, so a job a worker took
    and never started is in no list at all."""
    jobs = list(jobs)
    queues = sorted({queue for _, queue in jobs})
    with conn.pipeline(transaction=True) as pipe:
        for queue in queues:
            pipe.lrange(intermediate_key(queue), 0, -1)
            pipe.zrange(wip_key(queue), 0, -1, withscores=True)
        for job_id, queue in jobs:
            pipe.hmget(job_key(job_id), "status", "worker_name")
            pipe.zscore(scheduled_key(queue), job_id)
        replies = pipe.execute()
    taken, heartbeats = set(), {}
    for i in range(len(queues)):
        taken.update(_text(member) for member in replies[2 * i])
        for member, score in replies[2 * i + 1]:
            job_id = parse_composite_key(_text(member))[0]
            heartbeats[job_id] = max(score, heartbeats.get(job_id, 0))
    rest = replies[2 * len(queues):]
    workers = {_text(rest[2 * i][1]) for i in range(len(jobs)) if rest[2 * i][1]}
    alive = alive_workers(conn, workers)
    states = {}
    members = members or {}
    for i, (job_id, queue) in enumerate(jobs):
        (status, worker), scheduled_at = rest[2 * i], rest[2 * i + 1]
        worker = _text(worker) or None
        waiting = members.get(queue)
        states[job_id] = RQState(status=_text(status), worker=worker, taken=job_id in taken,
                                 in_queue=None if waiting is None else job_id in waiting,
                                 scheduled_at=scheduled_at, heartbeat=heartbeats.get(job_id),
                                 worker_alive=worker in alive)
    return states


def alive_workers(conn, names):
    """The worker names among ``names`` whose key still lives (a worker's key expires with its heartbeats)."""
    names = sorted(names)
    if not names:
        return set()
    with conn.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.exists(worker_key(name))
        return {name for name, exists in zip(names, pipe.execute()) if exists}


def forget(conn, jobs, *, pipeline=None, lists=True):
    """Remove every trace RQ holds of ``jobs`` (pairs of job id and queue name): its queue and
    intermediate lists, its started, scheduled and failed registries, its hash, executions and results
    stream (RQ 2's ``rq:results:<id>``, kept for the result or failure TTL). Added to ``pipeline`` when
    given (the caller executes it), else executed here. ``lists=False`` leaves out the queue and
    intermediate lists and the started registry (O(length) each) for jobs known to have left them (RQ
    no longer has their hash): the rest is O(log n) per job."""
    jobs = list(jobs)
    wip = {}
    if jobs and lists:
        with conn.pipeline(transaction=False) as read:
            queues = sorted({queue for _, queue in jobs})
            for queue in queues:
                read.zrange(wip_key(queue), 0, -1)
            for queue, members in zip(queues, read.execute()):
                wip[queue] = [_text(member) for member in members]
    pipe = pipeline if pipeline is not None else conn.pipeline(transaction=False)
    for job_id, queue in jobs:
        if lists:
            pipe.lrem(queue_key(queue), 0, job_id)
            pipe.lrem(intermediate_key(queue), 0, job_id)
        pipe.zrem(scheduled_key(queue), job_id)
        pipe.zrem(failed_key(queue), job_id)
        for member in wip.get(queue, ()):
            if parse_composite_key(member)[0] == job_id:
                pipe.zrem(wip_key(queue), member)
        pipe.delete(job_key(job_id), executions_key(job_id), Result.get_key(job_id))
    if pipeline is None:
        pipe.execute()


def held(conn, job_id) -> dict | None:
    """Why and until when a job waits in RQ's scheduled registry unclaimed (``{"reason", "until"}``, set
    by the runner when a rate limit or concurrency limit parks it), or None if it is not parked."""
    status, meta = conn.hmget(job_key(job_id), "status", "meta")
    if _text(status) != "scheduled" or not meta:
        return None
    try:
        return JSONSerializer.loads(meta).get("held")
    except (ValueError, AttributeError):
        return None


def worker_controls(conn) -> tuple[frozenset[str], bool]:
    """What a worker obeys, in one round trip: the paused queues, and whether ``rq suspend`` is on."""
    with conn.pipeline(transaction=False) as pipe:
        pipe.smembers(paused_key())
        pipe.exists(WORKERS_SUSPENDED)
        names, suspended = pipe.execute()
    return frozenset(_text(name) for name in names), bool(suspended)


# -- the private methods jobdesk's workers override -----------------------------------------------

class Job(RQJob):
    """RQ's job, JSON only, and cheaper to finish: see ``cleanup``."""

    ALLOWED_FUNCTIONS = frozenset({RUNNER})

    def __init__(self, id=None, connection=None, serializer=None):
        super().__init__(id=id, connection=connection, serializer=JSONSerializer)

    persisted = False  # the worker made the hash permanent in its own preparation pipeline

    def perform(self):
        if not self.persisted:
            return super().perform()
        # RQ's perform, less its PERSIST of the hash (a round trip of its own).
        _job_stack.push(self)
        try:
            self._result = self._execute()
        finally:
            assert self is _job_stack.pop()
        return self._result

    def _execute(self):
        if self.func_name not in self.ALLOWED_FUNCTIONS:
            raise RefusedJob(f"refused to run {self.func_name!r}: only jobdesk ledger jobs run here")
        return super()._execute()

    def cleanup(self, ttl=None, pipeline=None, remove_from_queue=True):
        if ttl == 0 and pipeline is not None and not remove_from_queue:
            # A finished job (the worker's success path, which has already cleaned up its execution):
            # delete it in the same pipeline, without RQ's status and registry reads.
            pipeline.delete(self.key, self.dependents_key, self.dependencies_key, executions_key(self.id))
            return
        super().cleanup(ttl=ttl, pipeline=pipeline, remove_from_queue=remove_from_queue)


class RefusedJob(Exception):
    """A job in Redis that is not a jobdesk ledger job: it is failed without running."""


class Backoff:
    """Waits that grow from ``RECONNECT_BACKOFF``'s first to its longest, reset once things work."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.delay = RECONNECT_BACKOFF[0]

    def wait(self):
        time.sleep(self.delay)
        self.delay = min(self.delay * RECONNECT_BACKOFF[1], RECONNECT_BACKOFF[2])


class WorkerOverrides:
    """What both worker classes change in RQ: JSON, short heartbeats, paused queues left alone, fewer
    round trips per job, and riding out a Redis or database restart instead of quitting.

    RQ's work loop quits on any exception it does not expect ("found an unhandled exception,
    quitting"), and a Redis restart raises ``ConnectionError`` from places it does not guard (the work
    horse's monitor, the heartbeats, maintenance). Here every Redis call the worker makes between jobs
    waits for Redis with a growing backoff instead; a heartbeat that finds the worker unregistered (Redis
    lost its data) registers the worker again; and no job is taken while the database does not answer.
    """

    _controls = (float("-inf"), frozenset(), False)  # checked at, paused queues, suspended
    log_result_lifespan = False  # "result discarded immediately" after every job: QUEUE_RESULT_TTL says it once
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
        self._backoff = Backoff()

    def handle_exception(self, job, *exc_info):
        """A job that died has been logged once by the runner, with its correlation ID and its own
        traceback; RQ's second ERROR line (the runner's wrapper, no correlation ID) is left out. The
        exception handlers still run."""
        if exc_info and isinstance(exc_info[1], JobDied):
            for handler in self._exc_handlers:
                if handler(job, *exc_info) is False:
                    break
            return
        super().handle_exception(job, *exc_info)

    @property
    def dequeue_timeout(self):
        # Wake up every few seconds, so that pausing or resuming a queue takes effect without a restart.
        return min(super().dequeue_timeout, PAUSE_POLL)

    def _poll_controls(self):
        """The paused queues and whether ``rq suspend`` is on, read at most once a second (one round
        trip); while Redis is away, the last answer stands."""
        now = time.monotonic()
        checked_at = self._controls[0]
        if now - checked_at >= self.EVERY:
            try:
                self._controls = (now, *worker_controls(self.connection))
            except REDIS_DOWN as exc:
                log.warning("worker %s: Redis unavailable (%s); keeping the last paused queues", self.name, exc)
                self._controls = (now, *self._controls[1:])
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
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                # Registered means listed in RQ's workers set with a hash RQ's birth wrote: after Redis lost
                # its data, the worker's other writes (its state, a job's end, its working time) re-create
                # the hash before this, partial, so its mere existence says nothing.
                pipe.sismember(self.redis_workers_keys, self.key)
                pipe.hexists(self.key, "birth")
                super().heartbeat(None, pipe)
                listed, born = pipe.execute()[:2]
        except REDIS_DOWN as exc:
            log.warning("worker %s: heartbeat not sent, Redis unavailable: %s", self.name, exc)
            return None
        if not (listed and born):
            self._register_again()

    def register_birth(self):
        super().register_birth()
        from jobs.readiness import warn_about_redis  # readiness reads this module's key names

        try:
            warn_about_redis(f"worker {self.name}")
        except Exception:  # a warning must never stop a worker from starting
            log.debug("worker %s: could not read Redis's configuration", self.name, exc_info=True)

    def _register_again(self):
        """Redis lost the worker's registration (a restart without data): register again, with its queues,
        so the worker is listed (``rq:workers``, ``rq:workers:<queue>``) and counted alive."""
        log.warning("worker %s: its Redis registration is gone (Redis restarted?); registering again", self.name)
        try:
            # The partial hash the worker's other writes left is marked dead, not deleted: RQ's birth refuses a
            # hash without a death, and the parent's next write (the job's working time) could re-create one
            # between a delete and that check.
            self.connection.hset(self.key, "death", utcformat(rq_now()))
            self.register_birth()
        except (RedisError, ValueError) as exc:
            log.warning("worker %s: could not register again: %s", self.name, exc)

    def maintain_heartbeats(self, job):
        try:
            return super().maintain_heartbeats(job)
        except REDIS_DOWN as exc:  # the work horse goes on; the next heartbeat may find Redis back
            log.warning("worker %s: job %s heartbeat not sent, Redis unavailable: %s", self.name, job.id, exc)

    def set_current_job_working_time(self, current_job_working_time, pipeline=None):
        # Called by RQ's monitor of the work horse every heartbeat: a Redis error here must not make
        # the worker abandon (and later cut the database connection of) a horse that is still working.
        try:
            return super().set_current_job_working_time(current_job_working_time, pipeline=pipeline)
        except REDIS_DOWN as exc:
            log.warning("worker %s: working time not sent, Redis unavailable: %s", self.name, exc)

    def check_for_suspension(self, burst):
        if self._poll_controls()[1]:
            return super().check_for_suspension(burst)  # waits, as RQ does, until `rq resume`
        return None

    def run_maintenance_tasks(self):
        try:
            return super().run_maintenance_tasks()
        except REDIS_DOWN as exc:
            log.warning("worker %s: maintenance skipped, Redis unavailable: %s", self.name, exc)

    def clean_registries(self):
        """RQ's, with its "cleaning registries for queue" line at DEBUG: the pass runs every
        ``maintenance_interval`` (seconds here, not RQ's ten minutes), and at INFO those lines were most of
        an idle worker's log."""
        for queue in self.queues:
            if queue.acquire_maintenance_lock():
                self.log.debug("Worker %s: cleaning registries for queue: %s", self.name, queue.name)
                clean_registries(queue, self._exc_handlers)
                worker_registration.clean_worker_registry(queue)
                queue.intermediate_queue.cleanup(self, queue)
                queue.release_maintenance_lock()
        self.last_cleaned_at = rq_now()

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Take the next job only once the database answers and Redis does; wait with backoff meanwhile."""
        while True:
            try:
                self._wait_for_database()
                result = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except REDIS_DOWN as exc:
                log.warning("worker %s: Redis unavailable, waiting %.1fs: %s", self.name, self._backoff.delay, exc)
                self._backoff.wait()
                continue
            self._backoff.reset()
            return result

    def _wait_for_database(self):
        while True:
            try:
                self._database_ready()
                return
            except (DatabaseError, InterfaceError) as exc:
                log.warning("worker %s: database unavailable, waiting %.1fs: %s", self.name, self._backoff.delay,
                            exc)
                connections["default"].close()
                self._backoff.wait()

    def _database_ready(self):
        """Drop a connection that failed (a database restart) and connect again; raises while the
        database is away. A healthy open connection costs nothing here."""
        close_old_connections()
        connections["default"].ensure_connection()

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            # The job's own outcome is in the ledger (or its record is still waiting there): the
            # reconciler sets RQ's side right once Redis is back. The worker stays.
            log.warning("worker %s: lost Redis around job %s: %s", self.name, job.id, exc)
            self._backoff.wait()

    def handle_job_success(self, job, queue, started_job_registry):
        if job.get_result_ttl(self.default_result_ttl) != 0 or job.repeats_left:
            return super().handle_job_success(job, queue, started_job_registry)
        # RQ's path, less the WATCH of the job's dependents and their read: ledger jobs never have
        # dependents (the ledger, not RQ, chains work).
        with self.connection.pipeline() as pipeline:
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            job.cleanup(0, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            pipeline.execute()
        self.log.debug("Successfully completed %s job in %ss on worker %s", job.description,
                       job.ended_at - job.started_at, self.name)

    def get_heartbeat_ttl(self, job):
        if job.timeout and job.timeout > 0:
            remaining = job.timeout - self.current_job_working_time
            return int(min(remaining, self.job_monitoring_interval)) + settings.QUEUE_HEARTBEAT_GRACE
        return self.job_monitoring_interval + settings.QUEUE_HEARTBEAT_GRACE


class SchedulerOverrides:
    """rq-scheduler's private signal handler, made safe when Redis is away: its own ``stop`` records the
    scheduler's death in Redis first, and a ``ConnectionError`` there escaped as "Redis is down" (the
    scheduler then started again instead of stopping, or died with a traceback)."""

    def _install_signal_handlers(self):
        def stop(signum, frame):
            self.log.info("Shutting down RQ scheduler...")
            try:
                self.register_death()
                self.remove_lock()
            except RedisError as exc:
                self.log.warning("rqscheduler: stopping without marking its end in Redis (%s)", exc)
            raise SystemExit()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
