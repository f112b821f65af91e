"""Per-key concurrency limits ("at most 2 exports at once per guild"): slots in a Redis sorted set.

A job type declared with ``concurrency=<callable returning the limit>`` takes a slot for its guild before
it is claimed; with every slot taken it goes back to RQ's scheduled registry for ``WAIT`` seconds and
stays ``queued`` in the ledger, untouched. The runner gives the slot back when the attempt ends; an
attempt that ends outside the runner (a cancel, a lost or timed-out work process) has it given back by
whoever records that end (``release_for``). A slot expires on its own after the job's timeout, so a
crashed worker cannot hold one forever.
"""

import logging
import time

from django.conf import settings
from redis.exceptions import RedisError

from jobs import registry
from jobs.connection import redis_connection
from jobs.errors import JobError

log = logging.getLogger(__name__)

WAIT = 3

_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[4]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(ARGV[2] - ARGV[1]) + 60)
  return 1
end
return 0
"""


def _key(job_type, scope):
    return f"{settings.QUEUE_NAMESPACE}:slots:{job_type.name}:{scope}"


def acquire(job_type, scope, member, *, timeout=None) -> bool:
    """Take one of the type's slots for ``member``; the slot lapses ``timeout`` (the job's own, per-call
    timeout when given, else the type's) plus a minute from now, should its release never come."""
    now = time.time()
    script = redis_connection().register_script(_ACQUIRE)
    timeout = timeout if timeout and timeout > 0 else job_type.timeout
    return bool(script(keys=[_key(job_type, scope)], args=[now, now + timeout + 60,
                                                          int(job_type.concurrency()), member]))


def release(job_type, scope, member):
    redis_connection().zrem(_key(job_type, scope), member)


def release_for(record):
    """Give back the slot ``record``'s running attempt held, when that attempt ended outside the runner
    (the runner's own release never runs in a work process that was killed): the type's next job starts
    within ``WAIT`` seconds instead of when the slot lapses. Nothing for a type without a limit. Never
    raises for Redis trouble: the slot then lapses on its own, as it would have."""
    try:
        job_type = registry.get(record.job_type)
    except JobError:  # a type no longer declared took no slot this code knows of
        return
    if not job_type.concurrency:
        return
    try:
        # The scope and member the runner took it with: the job's meta (jobs.dispatch) and RQ job id.
        release(job_type, record.guild_id, record.rq_id)
    except RedisError as exc:
        log.warning("concurrency slot of job %s not released (it lapses on its own): %s", record.pk, exc)
