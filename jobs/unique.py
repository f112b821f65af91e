"""Unique jobs: a job type declared with ``unique=Unique(key=..., scope=...)`` has at most one record per
key in its scope; enqueueing it again returns that record (``record.created is False``).

    @job_type("reports.rebuild", payload=Rebuild, unique=Unique(key=("guild", "report_id"), scope="active"))

``key`` is a tuple of names: ``"guild"`` (the job's guild) and top-level payload fields, read from the
validated payload; ``()`` means one per type. Or a callable ``key(payload: dict, guild_id) -> str``.
The stored key is always prefixed with the type's name (types never share keys); a key longer than 255
characters is stored as its SHA-256.

``scope`` says how long a record holds its key:
- ``"waiting"``: until its first attempt starts (status pending or queued, no attempt yet);
- ``"active"``: until it ends (pending, queued, running or retrying);
- a ``timedelta``: for that long after it was enqueued, whatever happens to it.

The rule, and why it holds under concurrency:
- waiting/active: two partial unique indexes on ``unique_key`` whose conditions are the scope's
  statuses (migration 0009). The INSERT is ``ON CONFLICT … DO NOTHING``: of two concurrent enqueues,
  PostgreSQL lets one insert and makes the other wait for it, then skip; the loser reads the winner.
  A record leaves its scope by its ordinary status change: no write, so the state machine
  (``jobs.states``) is untouched. Only a staff retry brings a record back into its scope (a finished
  one is queued again); if another record holds the key by then, that retry is refused (the index
  answers, ``jobs.services.retry_job`` reports it as skipped).
- period: ``unique_until`` = enqueue time + period. An index cannot compare with the clock, so the
  enqueue takes a transaction-level advisory lock on the key, looks for a record whose ``unique_until``
  is ahead and inserts only if there is none; the lock is held until the caller's transaction ends, so
  a concurrent enqueue of the key waits for it and then sees its record (READ COMMITTED, PostgreSQL's
  default). On SQLite (``make run``) the look-up is done without the lock.

Cost against a plain enqueue: waiting/active, none when the key is free (the same one INSERT); period,
one transaction with a lock, a look-up and the INSERT.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from django.db import connection, transaction

from jobs.errors import JobError
from jobs.models import JobRecord
from jobs.statements import db_value

WAITING, ACTIVE, PERIOD = "waiting", "active", "period"
# The statuses each scope's index covers (migration 0009 declares the same conditions).
# Word for word (and term for term, in order) the partial unique indexes' conditions of migration 0009:
# SQLite matches an ON CONFLICT target to a partial index only when its WHERE terms come in the same order.
_CONDITIONS = {
    WAITING: "attempts = 0 AND status IN ('pending', 'queued') AND unique_scope = 'waiting'",
    ACTIVE: "status IN ('pending', 'queued', 'running', 'retrying') AND unique_scope = 'active'",
}
_TRIES = 5


@dataclass(frozen=True)
class Unique:
    key: tuple[str, ...] | Callable = ()
    scope: str | timedelta = WAITING

    def check(self, type_name, payload_model):
        """Raise ``ValueError`` for a declaration that cannot work (at import time, not at enqueue)."""
        if isinstance(self.scope, timedelta):
            if self.scope <= timedelta(0):
                raise ValueError(f"job type {type_name!r}: unique scope period must be positive")
        elif self.scope not in (WAITING, ACTIVE):
            raise ValueError(f"job type {type_name!r}: unique scope must be 'waiting', 'active' or a timedelta")
        if callable(self.key):
            return
        if isinstance(self.key, str) or not isinstance(self.key, (tuple, list)):
            raise ValueError(f"job type {type_name!r}: unique key must be a tuple of names or a callable")
        for name in self.key:
            if name != "guild" and name not in payload_model.model_fields:
                raise ValueError(f"job type {type_name!r}: unique key names {name!r}, which is neither 'guild' "
                                 "nor a field of its payload")

    @property
    def scope_name(self):
        return PERIOD if isinstance(self.scope, timedelta) else self.scope

    def describe(self):
        key = getattr(self.key, "__name__", "callable") if callable(self.key) else (", ".join(self.key) or "the type")
        scope = f"for {self.scope}" if isinstance(self.scope, timedelta) else f"while {self.scope}"
        return f"one per {key} {scope}"


def key_for(job_type, payload, guild_id) -> str:
    """The stored key of a job of ``job_type`` with the validated ``payload`` (a JSON-ready dict)."""
    unique = job_type.unique
    if callable(unique.key):
        part = unique.key(payload, guild_id)
        if not isinstance(part, (str, int)) or isinstance(part, bool):
            raise JobError(f"the unique key of {job_type.name!r} must be text or a number", field="payload",
                           code="invalid_payload")
        part = str(part)
    else:
        part = json.dumps([guild_id if name == "guild" else payload.get(name) for name in unique.key],
                          separators=(",", ":"), sort_keys=True, default=str)
    key = f"{job_type.name}:{part}"
    return key if len(key) <= 255 else f"{job_type.name}:sha256:{hashlib.sha256(part.encode()).hexdigest()}"


def stamp(record, job_type, now):
    """Put the unique columns on a new ``record`` of a unique type."""
    unique = job_type.unique
    record.unique_key = key_for(job_type, record.payload, record.guild_id)
    record.unique_scope = unique.scope_name
    record.unique_until = now + unique.scope if isinstance(unique.scope, timedelta) else None


def insert(record):
    """Insert ``record`` unless another record holds its key in scope; returns that record, else None."""
    if record.unique_scope == PERIOD:
        return _insert_for_period(record)
    for _ in range(_TRIES):
        if _insert_unless_held(record):
            return None
        holder = _holder(record)
        if holder is not None:
            return holder
        time.sleep(0.01)  # the holder left its scope between the two statements: try again
    raise JobError("unique key is changing hands too fast; try again", field="job_type", code="conflict")


@transaction.atomic(savepoint=False)
def _insert_for_period(record):
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"jobdesk.unique:{record.unique_key}"])
    holder = (JobRecord.objects.filter(unique_scope=PERIOD, unique_key=record.unique_key,
                                       unique_until__gt=record.created_at)
              .order_by("-unique_until").first())
    if holder is not None:
        return holder
    record.save(force_insert=True)
    return None


def _holder(record):
    rows = JobRecord.objects.filter(unique_key=record.unique_key, unique_scope=record.unique_scope)
    if record.unique_scope == WAITING:
        rows = rows.filter(status__in=["pending", "queued"], attempts=0)
    else:
        rows = rows.filter(status__in=["pending", "queued", "running", "retrying"])
    return rows.first()


def _insert_unless_held(record) -> bool:
    fields = JobRecord._meta.concrete_fields
    qn = connection.ops.quote_name
    sql = (f"INSERT INTO {qn(JobRecord._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) "
           f"ON CONFLICT (unique_key) WHERE {_CONDITIONS[record.unique_scope]} DO NOTHING")
    params = [db_value(JobRecord, f.name, getattr(record, f.attname)) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.rowcount == 1
    if inserted:
        record._state.adding = False
    return inserted
