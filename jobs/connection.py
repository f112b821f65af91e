"""Redis connection and RQ queues, built once per process and reused (no per-job connection set-up)."""

from functools import lru_cache

from django.conf import settings
from rq.serializers import JSONSerializer


@lru_cache(maxsize=1)
def redis_connection():
    import django_rq

    return without_client_setinfo(django_rq.get_connection(queue_name("default")))


def without_client_setinfo(connection):
    """New connections of ``connection``'s pool skip CLIENT SETINFO (a client name shown by CLIENT LIST).

    For it redis-py reads its own package metadata from disk on every new connection (6 ms measured)
    and makes two more round trips; a forking worker opens a new connection in every work horse, so
    that was a quarter of a short job's cost.
    """
    connection.connection_pool.connection_kwargs["driver_info"] = None
    return connection


def queue_name(domain: str, priority: str = "default") -> str:
    """``<namespace>.<domain>``, with ``.high`` or ``.low`` for those priorities."""
    name = f"{settings.QUEUE_NAMESPACE}.{domain}"
    return name if priority == "default" else f"{name}.{priority}"


@lru_cache(maxsize=None)
def get_queue(name: str):
    """The RQ queue ``name`` (a full name from RQ_QUEUES), JSON-serialized, never pickle."""
    from django_rq.queues import get_queue as django_rq_get_queue

    if name not in settings.RQ_QUEUES:
        raise KeyError(f"unknown queue {name!r}")
    return django_rq_get_queue(name, connection=redis_connection(), serializer=JSONSerializer, commit_mode="auto")


def all_queue_names() -> list[str]:
    return list(settings.RQ_QUEUES)


def domain_queue_names(domain: str) -> list[str]:
    """The queues of ``domain`` in the order a worker should take them: high, default, low."""
    return [queue_name(domain, priority) for priority in settings.QUEUE_PRIORITIES]


def reset():
    """Forget cached connections (tests that change REDIS settings, forked processes)."""
    redis_connection.cache_clear()
    get_queue.cache_clear()
