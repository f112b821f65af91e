"""Is jobdesk ready to take work, and is its Redis safe for jobs? For ``/readyz``, the queues page and
the workers' start-up.

``readiness()`` names each failing part: the database (answers, migrations applied), Redis (answers) and
the workers (a live worker for every queue that has jobs waiting and is not paused).
``redis_durability_warnings()`` says when Redis may evict keys (``maxmemory-policy`` other than
``noeviction``) or keeps nothing on disk (no RDB snapshots, no AOF): the ledger re-sends what Redis loses
(README, Guarantees), but jobs wait for the reconciler meanwhile and limits forget their windows.
"""

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from redis.exceptions import RedisError

from jobs import rq_internals
from jobs.connection import all_queue_names, redis_connection

log = logging.getLogger(__name__)

_migrated = False  # once all migrations are applied they stay so for the life of the process


def _database():
    global _migrated
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    if not _migrated:
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            return f"{len(plan)} migration(s) not applied: {names}"
        _migrated = True
    return None


def _workers(conn):
    names = all_queue_names()
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.llen(rq_internals.queue_key(name))
    waiting = {name: n for name, n in zip(names, pipe.execute()) if n}
    if not waiting:
        return None
    paused, _ = rq_internals.worker_controls(conn)
    waiting = {name: n for name, n in waiting.items() if name not in paused}
    from rq import Worker

    served = {queue for worker in Worker.all(connection=conn) for queue in worker.queue_names()}
    unserved = sorted(name for name in waiting if name not in served)
    if unserved:
        return "no live worker for " + ", ".join(f"{name} ({waiting[name]} waiting)" for name in unserved)
    return None


def _unavailable(part, exc, word="unavailable"):
    """The kind of failure for the answer (``/readyz`` is public: no host, port or server message in it);
    the whole message goes to the log, where the engineer who deploys it reads it."""
    log.warning("readiness: %s %s: %s: %s", part, word, type(exc).__name__, exc)
    return f"{word}: {type(exc).__name__}"


def readiness() -> dict:
    """``{"ready": bool, "checks": {"database": "ok"|problem, "redis": ..., "workers": ...}, "warnings": [...]}``."""
    checks = {}
    try:
        checks["database"] = _database() or "ok"
    except Exception as exc:  # any failure to answer is the answer
        checks["database"] = _unavailable("database", exc)
    conn = redis_connection()
    try:
        conn.ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = _unavailable("Redis", exc)
    if checks["redis"] == "ok":
        try:
            checks["workers"] = _workers(conn) or "ok"
        except RedisError as exc:
            checks["workers"] = _unavailable("workers", exc, "unknown")
    else:
        checks["workers"] = "unknown: Redis unavailable"
    warnings = redis_durability_warnings() if checks["redis"] == "ok" else []
    return {"ready": all(value == "ok" for value in checks.values()), "checks": checks, "warnings": warnings}


def redis_durability_warnings(conn=None) -> list[str]:
    """What in Redis's configuration can lose jobs; [] when it is safe or cannot be read (CONFIG disabled)."""
    conn = conn or redis_connection()
    try:
        config = {**conn.config_get("maxmemory-policy"), **conn.config_get("save"), **conn.config_get("appendonly")}
    except RedisError:
        return []
    warnings = []
    policy = config.get("maxmemory-policy", "noeviction")
    if policy != "noeviction":
        warnings.append(f"Redis may evict jobs under memory pressure (maxmemory-policy {policy}; set noeviction)")
    if not config.get("save") and config.get("appendonly", "no") == "no":
        warnings.append("Redis keeps jobs only in memory (no RDB snapshots, appendonly no): a restart loses "
                        "them until the reconciler sends them again")
    return warnings


def warn_about_redis(who):
    """Log each durability warning once, at a process's start."""
    for warning in redis_durability_warnings():
        log.warning("%s: %s", who, warning)
