"""Per-key concurrency limits ("at most 2 exports at once per guild"): slots in a Redis sorted set.

A job type declared with ``concurrency=<callable returning the limit>`` takes a slot for its guild before
it is claimed; with every slot taken it goes back to RQ's scheduled registry for ``WAIT`` seconds and
stays ``queued`` in the ledger, untouched. A slot expires on its own after the job's timeout, so a
crashed worker cannot hold one forever.
"""

import time

from django.conf import settings

from jobs.connection import redis_connection

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
