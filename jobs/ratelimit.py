"""Rate limits per job type ("20 per second", "10 per minute per guild"), shared by every worker through Redis.

Declared on the job type: ``@job_type(..., rate_limit=RateLimit(20, per=1.0))`` or ``rate_limit="20/s"``,
``"10/m per guild"``, ``"5/30s"``. What is promised: at most ``limit`` jobs of the type *start* in any
window of ``per`` seconds (per guild with ``by_guild``; jobs without a guild share one budget). It is a
sliding-window log: one Redis sorted set per type (and guild) holding the admission times of the last
window, checked and appended by one Lua script that reads Redis's own clock, so workers on machines
whose clocks differ still share one limit.

A job over the limit waits; it is neither failed nor counted as an attempt: the runner asks for a slot
*before* it claims the record, so the ledger record stays ``queued``, untouched. The script answers
with the time of the next free slot, and takes it for the job (a later job is given the slot after):
- a slot at most ``SLEEP_AT_MOST`` seconds away: the worker sleeps until then, then runs the job: the
  rate is held to a few milliseconds, and a worker sleeps instead of spinning;
- a later slot, up to ``RESERVE_AHEAD``: the job is parked in RQ's scheduled registry (whole seconds)
  so that it comes back shortly before its slot (``park_for``), finds it kept for it, sleeps out the
  rest and runs. Each job of a backlog is so taken about once (twice when it comes back a little
  early), however long the backlog: without the reservation every parked job came back to the same
  next slot, one got it and the rest parked again, n² takes for n jobs;
- a slot further ahead than that (or beyond ``RESERVED_AT_MOST`` slots held): nothing is taken; the job
  is parked until shortly before that slot and asks again then.
A parked job is ``scheduled`` in RQ with a score ahead, which the reconciler leaves alone; a sleeping
one is ``started`` by a live worker, which it leaves alone too. A parked job that comes back after its
slot (every worker was busy) starts at once if that keeps every window within the limit, else it asks
for a new slot, behind those already given.

The limiter's state lives only in Redis: a Redis restart that loses its data forgets the last window
and the slots held, so right after it one burst of up to ``limit`` jobs may start on top of those just
run, and parked jobs ask again when they come back. A worker crash loses nothing but the slot it held
(the budget is briefly under-used, never over-used). A slot taken by a job that then turns out canceled
or already finished is spent all the same: for a parked job canceled in the meantime, that is a slot up
to ``RESERVE_AHEAD`` away that no other job takes.
"""

import math
import re
import time
from dataclasses import dataclass

from django.conf import settings

from jobs.connection import queue_name, redis_connection

# Longest wait a worker sleeps out holding the job (its slot reserved); longer waits park the job.
SLEEP_AT_MOST = 2.0
# A parked job comes back before its slot by at most its sleep plus this (``park_for``): RQ files it to the
# whole second, so it is due back within a second or so of when it was aimed at.
RETURN_SLACK = 0.1
# Slots are kept for parked jobs only where a job may sleep this long: a shorter sleep (a type whose
# timeout is under ~6 s) is narrower than the second RQ's scheduler may bring the job back within, so such
# jobs park without a slot and ask again.
RETURN_WINDOW_AT_LEAST = 1.5
# How far ahead a slot is kept for a parked job. Further ahead, nothing is held: a canceled parked job's
# slot is lost for at most this long, and a job further back in a backlog is taken about once an hour
# until its slot is within reach.
RESERVE_AHEAD = 3600.0
# The most slots kept ahead per type (and guild) beyond one window's ``limit``: the log's memory (about
# 100 bytes a slot), whatever the backlog.
RESERVED_AT_MOST = 100_000
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


# KEYS: the log, the index of scopes (for the queues page), the slots kept for parked jobs (a hash:
# member -> its slot). ARGV: limit, per, longest sleep, longest sleep of a parked job back for its slot,
# how far ahead a slot is kept for a parked job, the most entries the log may hold, member, scope.
# Answers {admitted (1/0), seconds until the slot (a string: Lua numbers would be cut to integers)}.
# A new entry is never earlier than the last one, so the log stays in order and each entry is at least
# ``per`` after the one ``limit`` places before it; an entry moved later (a parked job back late) only
# where that still holds.
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local limit, per, sleep, back = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ahead, most, member, scope = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8]
local function fmt(x) return string.format('%.6f', x) end
local function keep(key, till)  -- a TTL lasting until ``till`` and ``per`` after, never shortened
  local want = math.ceil((till + per - now) * 1000) + 1000
  if redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, want) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - per)
local held = redis.call('HGET', KEYS[3], member)
if held then
  local at = tonumber(held)
  if at - now > back then
    return {0, fmt(at - now)}
  end
  redis.call('HDEL', KEYS[3], member)
  if at >= now then
    return {1, fmt(at - now)}
  end
  local entry = member .. ':' .. held
  local rank = redis.call('ZRANK', KEYS[1], entry)
  if rank then
    redis.call('ZREM', KEYS[1], entry)
    local following = redis.call('ZRANGE', KEYS[1], rank, rank, 'WITHSCORES')
    local limit_later = redis.call('ZRANGE', KEYS[1], rank + limit - 1, rank + limit - 1, 'WITHSCORES')
    if (#following == 0 or tonumber(following[2]) >= now)
        and (#limit_later == 0 or tonumber(limit_later[2]) >= now + per) then
      redis.call('ZADD', KEYS[1], now, member .. ':' .. fmt(now))
      keep(KEYS[1], now)
      return {1, fmt(0)}
    end
  end
end
local n = redis.call('ZCARD', KEYS[1])
local at = now
if n > 0 then
  at = math.max(at, tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]))
  if n >= limit then
    at = math.max(at, tonumber(redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')[2]) + per)
  end
end
local wait = at - now
local admitted = wait <= sleep
if not admitted and (wait > ahead or n >= most) then
  return {0, fmt(wait)}
end
redis.call('ZADD', KEYS[1], at, member .. ':' .. fmt(at))
keep(KEYS[1], at)
if not admitted then
  redis.call('HSET', KEYS[3], member, fmt(at))
  keep(KEYS[3], at)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], 'GT', at + per, scope)
keep(KEYS[2], at)
if admitted then
  return {1, fmt(wait)}
end
return {0, fmt(wait)}
"""


def _log_key(job_type, scope):
    return f"{settings.QUEUE_NAMESPACE}:rate:{job_type.name}:{scope}"


def _scopes_key(job_type):
    return f"{settings.QUEUE_NAMESPACE}:rate:{job_type.name}"


def _scope(job_type, guild_id):
    return ("none" if guild_id is None else str(guild_id)) if job_type.rate_limit.by_guild else "all"


def _parked_key(job_type, scope):
    return f"{_log_key(job_type, scope)}:parked"


def _sleeps(job_type, timeout):
    """The longest wait a worker sleeps out for a job that asks afresh, and for one back for its slot."""
    timeout = timeout if timeout and timeout > 0 else job_type.timeout
    sleep = min(SLEEP_AT_MOST, timeout / 4)  # a sleep counts against the RQ job's timeout
    return sleep, sleep + RETURN_SLACK


def admit(job_type, guild_id, record_id, *, timeout=None) -> tuple[bool, float]:
    """Ask for a slot: ``(True, wait)`` — start in ``wait`` seconds (0 for now); ``(False, wait)`` — the
    slot is ``wait`` seconds away, longer than a worker sleeps: park the job until shortly before it
    (``park_for``). The slot is kept for the job when it is at most ``RESERVE_AHEAD`` away (and the
    type's sleep is wide enough to come back within: ``RETURN_WINDOW_AT_LEAST``), so that the same call
    made when it comes back admits it then; else nothing is taken and it asks afresh."""
    rate = job_type.rate_limit
    scope = _scope(job_type, guild_id)
    sleep, back = _sleeps(job_type, timeout)
    ahead = RESERVE_AHEAD if back >= RETURN_WINDOW_AT_LEAST else 0
    script = redis_connection().register_script(_ADMIT)
    admitted, wait = script(keys=[_log_key(job_type, scope), _scopes_key(job_type), _parked_key(job_type, scope)],
                            args=[rate.limit, rate.per, sleep, back, ahead, rate.limit + RESERVED_AT_MOST,
                                  str(record_id), scope])
    return bool(int(admitted)), max(0.0, float(wait))


def wait_for_slot(job_type, guild_id, record_id, *, timeout=None) -> float | None:
    """Hold the job until its type's rate limit lets it start. ``None``: start it now (a short wait was
    slept out here); else the seconds to park it for before it comes back to its slot or asks again."""
    admitted, wait = admit(job_type, guild_id, record_id, timeout=timeout)
    if admitted:
        if wait > 0:
            time.sleep(wait)
        return None
    return park_for(wait, _sleeps(job_type, timeout)[1])


def park_for(wait, back=SLEEP_AT_MOST + RETURN_SLACK) -> float:
    """Seconds to park a job whose slot is ``wait`` seconds away so that it is back at most ``back``
    seconds before the slot, and before it as far as RQ allows. RQ files a parked job at the whole second
    ``floor(now + seconds)`` and its scheduler, polling each second, queues it within the second after
    that; so the job is aimed at the first whole second no more than ``back`` before the slot, and it is
    back between then and a second later, before the slot when ``back`` exceeds a second (less the
    scheduler's own delay). Never less than the next whole second: a job back early parks once more."""
    now = time.time()
    due = max(math.ceil(now + wait - back), math.floor(now) + 1)
    return due - now + 0.001  # RQ's own clock is read a moment later: still ``due`` once floored


def _window(per):
    names = {1.0: "second", 60.0: "minute", 3600.0: "hour", 86400.0: "day"}
    return names.get(per) or f"{per:g} s"


def overview():
    """One dict per rate-limited job type, for the queues page: the limit, the jobs started in the current
    window (slots taken ahead are not counted: those jobs wait) — for a per-guild limit, in the busiest
    guild, with the number of guilds active — and whether it is throttled (a window full, or jobs of it
    waiting for a slot)."""
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
            pipe.zcount(_log_key(job_type, scope), f"({now - job_type.rate_limit.per}", now)
            pipe.zcount(_log_key(job_type, scope), f"({now}", "+inf")
    counts = iter(pipe.execute())
    rows = []
    for job_type, found in zip(limited, scopes):
        per_scope = [(next(counts), next(counts)) for _ in found]  # (started in the window, slots ahead)
        busiest = max((started for started, _ in per_scope), default=0)
        throttled = [started >= job_type.rate_limit.limit or ahead > 0 for started, ahead in per_scope]
        rows.append({
            "job_type": job_type.name, "queue": queue_name(job_type.queue), "limit": str(job_type.rate_limit),
            "window": _window(job_type.rate_limit.per),
            "current": busiest, "by_guild": job_type.rate_limit.by_guild, "scopes": len(found),
            "throttled": any(throttled), "throttled_scopes": sum(throttled),
        })
    return rows


def hold(job, record_id) -> float | None:
    """The runner's gate, before it claims the record: ``None`` to run the RQ ``job`` now (after
    sleeping out a short wait), else the seconds to park it for (``wait_for_slot``)."""
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
