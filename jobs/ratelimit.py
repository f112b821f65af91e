"""Rate limits per job type ("20 per second", "10 per minute per guild"), shared by every worker through Redis.

Declared on the job type: ``@job_type(..., rate_limit=RateLimit(20, per=1.0))`` or ``rate_limit="20/s"``,
``"10/m per guild"``, ``"5/30s"``. What is promised: at most ``limit`` jobs of the type *start* in any
window of ``per`` seconds (per guild with ``by_guild``; jobs without a guild share one budget). It is a
sliding-window log: one Redis sorted set per type (and guild) holding the admission times of the last
window, checked and appended by one Lua script that reads Redis's own clock, so workers on machines
whose clocks differ still share one limit.

A job over the limit waits; it is neither failed nor counted as an attempt: the runner asks for a slot
*before* it claims the record, so the ledger record stays ``queued``, untouched. The script answers
with the time of the next free slot:
- a slot at most ``SLEEP_AT_MOST`` seconds away is reserved at once (so no other worker takes it) and
  the worker sleeps until then, then runs the job: the rate is held to a few milliseconds, and a worker
  sleeps instead of spinning;
- a later slot is not reserved: the job is parked in RQ's scheduled registry (whole seconds) so that
  it comes back shortly before the slot, and asks again; the worker takes other work meanwhile.
A parked job is ``scheduled`` in RQ with a score ahead, which the reconciler leaves alone; a sleeping
one is ``started`` by a live worker, which it leaves alone too.

The limiter's state lives only in Redis: a Redis restart that loses its data forgets the last window,
so right after it one burst of up to ``limit`` jobs may start on top of those just run. A worker crash
loses nothing but the reserved slot it held (the budget is briefly under-used, never over-used). A slot
taken by a job that then turns out canceled or already finished is spent all the same.
"""

import math
import re
import time
from dataclasses import dataclass

from django.conf import settings

from jobs.connection import queue_name, redis_connection

# Longest wait a worker sleeps out holding the job (its slot reserved); longer waits park the job.
# Two seconds: a parked job comes back up to two seconds before its slot (see ``park_for``).
SLEEP_AT_MOST = 2.0
# The largest limit a type may declare: the log keeps one entry per job of the last window.
MAX_LIMIT = 100_000
# How many guilds the queues page reads per type.
OVERVIEW_SCOPES = 50

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
          "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*(per\s+guild)?\s*$")


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` starts in any ``per`` seconds, counted per guild when ``by_guild``."""

    limit: int
    per: float = 1.0
    by_guild: bool = False

    def __post_init__(self):
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"rate limit: limit must be a whole number from 1 to {MAX_LIMIT}, not {self.limit!r}")
        if isinstance(self.per, bool) or not isinstance(self.per, (int, float)) or not 0.01 <= self.per <= 86400:
            raise ValueError(f"rate limit: per must be a number of seconds from 0.01 to 86400, not {self.per!r}")
        object.__setattr__(self, "per", float(self.per))

    @classmethod
    def parse(cls, value) -> "RateLimit":
        """A ``RateLimit`` as is, or one from ``"<n>/<unit>"``, ``"<n>/<k><unit>"`` (``s``, ``m``, ``h``,
        ``d``), optionally followed by ``per guild``: ``"20/s"``, ``"10/m per guild"``, ``"5/30s"``."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise ValueError(f"rate limit must be a RateLimit or a string like '20/s', not {type(value).__name__}")
        match = _SPEC.match(value.lower())
        if not match:
            raise ValueError(f"rate limit {value!r} is not like '20/s', '10/m per guild' or '5/30s'")
        count, amount, unit, guild = match.groups()
        if unit not in _UNITS and len(unit) > 3 and unit[:-1] in _UNITS:  # "seconds", "mins", "hours"
            unit = unit[:-1]
        if unit not in _UNITS:
            raise ValueError(f"rate limit {value!r}: unknown unit {unit!r} (s, m, h or d)")
        per = float(amount) * _UNITS[unit] if amount is not None else _UNITS[unit]
        return cls(int(count), per=per, by_guild=bool(guild))

    def __str__(self):
        for name, seconds in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
            if self.per % seconds == 0:
                count = int(self.per // seconds)
                window = name if count == 1 else f"{count}{name}"
                break
        else:
            window = f"{self.per:g}s"
        return f"{self.limit}/{window}" + (" per guild" if self.by_guild else "")


# KEYS: the log, the index of scopes (for the queues page). ARGV: limit, per, longest reservation,
# member, scope. Answers {admitted (1/0), seconds until the slot (a string: Lua numbers would be cut to
# integers)}. A new entry is never earlier than the last one, so the log stays in order and each entry
# is at least ``per`` after the one ``limit`` places before it.
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local limit, per, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
local n = redis.call('ZCARD', KEYS[1])
local at = now
if n > 0 then
  at = math.max(at, tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]))
  if n >= limit then
    at = math.max(at, tonumber(redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')[2]) + per)
  end
end
local wait = at - now
if wait > reserve then
  return {0, string.format('%.6f', wait)}
end
redis.call('ZADD', KEYS[1], at, ARGV[4] .. ':' .. string.format('%.6f', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + per) * 1000) + 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], at + per, ARGV[5])
redis.call('PEXPIRE', KEYS[2], math.ceil((wait + per) * 1000) + 1000)
return {1, string.format('%.6f', wait)}
"""


def _log_key(job_type, scope):
    return f"{settings.QUEUE_NAMESPACE}:rate:{job_type.name}:{scope}"


def _scopes_key(job_type):
    return f"{settings.QUEUE_NAMESPACE}:rate:{job_type.name}"


def _scope(job_type, guild_id):
    return ("none" if guild_id is None else str(guild_id)) if job_type.rate_limit.by_guild else "all"


def admit(job_type, guild_id, record_id, *, timeout=None) -> tuple[bool, float]:
    """Ask for a slot: ``(True, wait)`` — reserved, start in ``wait`` seconds (0 for now); ``(False,
    wait)`` — the next slot is ``wait`` seconds away, longer than a worker sleeps, and nothing is taken."""
    rate = job_type.rate_limit
    scope = _scope(job_type, guild_id)
    timeout = timeout if timeout and timeout > 0 else job_type.timeout
    reserve = min(SLEEP_AT_MOST, timeout / 4)  # a sleep counts against the RQ job's timeout
    script = redis_connection().register_script(_ADMIT)
    admitted, wait = script(keys=[_log_key(job_type, scope), _scopes_key(job_type)],
                            args=[rate.limit, rate.per, reserve, str(record_id), scope])
    return bool(int(admitted)), max(0.0, float(wait))


def wait_for_slot(job_type, guild_id, record_id, *, timeout=None) -> int | None:
    """Hold the job until its type's rate limit lets it start. ``None``: start it now (a short wait was
    slept out here, the slot reserved); else the whole seconds to park it for before it asks again."""
    admitted, wait = admit(job_type, guild_id, record_id, timeout=timeout)
    if admitted:
        if wait > 0:
            time.sleep(wait)
        return None
    return park_for(wait)


def park_for(wait) -> int:
    """Whole seconds to park a job whose slot is ``wait`` seconds away, so that it is back *before* the
    slot, never after: RQ files it at ``floor(now + n)`` and its scheduler, polling each second, queues
    it within the second after that, so it is back between ``n - 1`` and ``n + 1`` seconds from now.
    With ``n <= wait - 1`` it is back at most ~3 s early: it sleeps out up to ``SLEEP_AT_MOST`` then, or
    parks once more for a second."""
    return max(1, math.floor(wait - 1.05))


def _window(per):
    names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
    return names.get(per) or f"{per:g} s"


def overview():
    """One dict per rate-limited job type, for the queues page: the limit, the jobs started (or about to
    start) in the current window — for a per-guild limit, in the busiest guild, with the number of
    guilds active — and whether it is throttled (a window full: more jobs of it wait)."""
    from jobs import registry

    limited = sorted((t for t in registry.all_types().values() if t.rate_limit is not None), key=lambda t: t.name)
    if not limited:
        return []
    conn = redis_connection()
    seconds, micros = conn.time()
    now = seconds + micros / 1_000_000
    pipe = conn.pipeline(transaction=False)
    for job_type in limited:
        pipe.zrangebyscore(_scopes_key(job_type), now, "+inf", start=0, num=OVERVIEW_SCOPES)
    scopes = [[s.decode() if isinstance(s, bytes) else s for s in found] for found in pipe.execute()]
    for job_type, found in zip(limited, scopes):
        for scope in found:
            pipe.zcount(_log_key(job_type, scope), f"({now - job_type.rate_limit.per}", "+inf")
    counts = iter(pipe.execute())
    rows = []
    for job_type, found in zip(limited, scopes):
        current = [next(counts) for _ in found]
        busiest = max(current, default=0)
        rows.append({
            "job_type": job_type.name, "queue": queue_name(job_type.queue), "limit": str(job_type.rate_limit),
            "window": _window(job_type.rate_limit.per),
            "current": busiest, "by_guild": job_type.rate_limit.by_guild, "scopes": len(found),
            "throttled": busiest >= job_type.rate_limit.limit,
            "throttled_scopes": sum(1 for count in current if count >= job_type.rate_limit.limit),
        })
    return rows


def hold(job, record_id) -> int | None:
    """The runner's gate, before it claims the record: ``None`` to run the RQ ``job`` now (after
    sleeping out a short wait), else the whole seconds to park it for (``wait_for_slot``)."""
    from jobs import registry
    from jobs.errors import JobError
    from jobs.models import JobRecord

    if job is None or not job.description:
        return None
    try:
        job_type = registry.get(job.description)
    except JobError:  # not a job type's name: the claim decides what to do
        return None
    if job_type.rate_limit is None:
        return None
    guild_id = None
    if job_type.rate_limit.by_guild:
        # The guild travels in the RQ job's meta for types that also limit concurrency; else one
        # indexed read (a per-guild rate limit only).
        guild_id = job.meta["scope"] if "scope" in (job.meta or {}) else (
            JobRecord.objects.filter(pk=record_id).values_list("guild_id", flat=True).first())
    return wait_for_slot(job_type, guild_id, record_id, timeout=job.timeout)
