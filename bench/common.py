"""What the benchmarks share: pointing a process (and the workers it starts) at the bench's own
PostgreSQL database and Redis database, creating that database, a raw psycopg connection, percentiles."""

import math
import os
import sys
from urllib.parse import urlsplit, urlunsplit

BENCH_EXPORTS_KEY = "test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # the Makefile's TEST_EXPORTS_KEY


def bench_environment(database, redis_db, **extra):
    """Set DATABASE_URL and REDIS_URL to the bench's own database and Redis db number (host and user
    from the current ones), production-like settings, and ``extra``; existing SECRET_KEY, QUEUE_NAMESPACE
    and EXPORTS_ENCRYPTION_KEYS are kept."""
    db_url = urlsplit(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = urlsplit(os.environ.get("QUEUE_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
    if not db_url.scheme.startswith("postgres") or redis_url.scheme not in ("redis", "rediss"):
        sys.exit("DATABASE_URL must be a postgres:// URL and REDIS_URL a redis:// URL (the bench picks the "
                 "database name and number)")
    os.environ.update(
        DATABASE_URL=urlunsplit(db_url._replace(path=f"/{database}")),
        REDIS_URL=urlunsplit(redis_url._replace(path=f"/{redis_db}")),
        DEBUG="false", SECURE_SSL_REDIRECT="false", DJANGO_SETTINGS_MODULE="project.settings", PYTHONUNBUFFERED="1",
    )
    os.environ["QUEUE_REDIS_URL"] = os.environ["REDIS_URL"]
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("EXPORTS_ENCRYPTION_KEYS", BENCH_EXPORTS_KEY)
    os.environ.update({key: str(value) for key, value in extra.items()})


def create_database(name, *, fresh=False):
    """Create the bench database if it is missing (``fresh``: drop it first), through ``postgres``."""
    import psycopg
    from psycopg import sql

    url = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True) as conn:
        if fresh:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def raw_connection():
    import psycopg

    return psycopg.connect(os.environ["DATABASE_URL"])


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
