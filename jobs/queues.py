"""Queues as staff see them: pause and resume, and the figures of the queues page and health API.

A paused queue still accepts jobs (enqueue never fails because of a pause); workers simply take
nothing from it until it is resumed. The paused set lives in Redis (``<namespace>:paused``) so that
every worker sees a change within ``PAUSE_POLL`` seconds, without a restart.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone
from rq import Worker as RQWorker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from jobs.connection import all_queue_names, redis_connection
from jobs.errors import JobError
from jobs.models import JobAttempt, JobRecord, Outcome, Status
from jobs.rq_internals import PAUSE_POLL, paused_key, queue_key  # noqa: F401  (PAUSE_POLL: re-exported)
from jobs.signals import staff_action

FAILED_OUTCOMES = (Outcome.FAILED, Outcome.TIMEOUT, Outcome.LOST)


def paused_queue_names(conn=None) -> set[str]:
    conn = conn or redis_connection()
    return _names(conn.smembers(paused_key()))


def _names(members):
    return {name.decode() if isinstance(name, bytes) else name for name in members}


def _known(name):
    if name not in settings.RQ_QUEUES:
        raise JobError(f"unknown queue {name!r}", field="queue", code="unknown_queue")


def queue_pause(name, *, actor=None) -> bool:
    """Pause ``name``; True if it was running. Workers stop taking its jobs within PAUSE_POLL seconds."""
    return _set_paused(name, True, actor)


def queue_resume(name, *, actor=None) -> bool:
    """Resume ``name``; True if it was paused."""
    return _set_paused(name, False, actor)


def _set_paused(name, paused, actor):
    _known(name)
    conn = redis_connection()
    changed = bool(conn.sadd(paused_key(), name) if paused else conn.srem(paused_key(), name))
    if changed:
        staff_action.send(sender=JobRecord, actor=actor, action="queue.paused" if paused else "queue.resumed",
                          resource_type="queue", resource_id=name, data={})
    return changed


def queue_overview():
    """One dict per queue: waiting, running, scheduled (Redis); retrying, dead, the jobs succeeded and
    the attempts failed in the last hour (ledger, through indexes); paused; the workers listening."""
    conn = redis_connection()
    names = all_queue_names()
    pipe = conn.pipeline(transaction=False)
    for name in names:
        pipe.llen(queue_key(name))
        pipe.zcard(StartedJobRegistry(name, connection=conn).key)
        pipe.zcard(ScheduledJobRegistry(name, connection=conn).key)
        pipe.zcard(FailedJobRegistry(name, connection=conn).key)
    counts = pipe.execute()
    paused = paused_queue_names(conn)
    workers = {}
    for worker in RQWorker.all(connection=conn):
        for name in worker.queue_names():
            workers.setdefault(name, []).append({"name": worker.name, "state": worker.get_state()})

    ledger = {}  # queue -> {status: count}, from the (status, queue) index alone
    for status, name, count in (JobRecord.objects.filter(status__in=[Status.RETRYING, Status.DEAD])
                                .order_by().values_list("status", "queue").annotate(n=Count("*"))):
        ledger.setdefault(name, {})[status] = count
    hour_ago = timezone.now() - timedelta(hours=1)
    finished = dict(JobRecord.objects.filter(succeeded_at__gte=hour_ago).order_by().values_list("queue")
                    .annotate(n=Count("*")))
    failed = dict(
        # order_by(): the model's default order (by record) would join every attempt to its job
        JobAttempt.objects.filter(ended_at__gte=hour_ago, outcome__in=FAILED_OUTCOMES).order_by()
        .values_list("queue").annotate(n=Count("*"))
    )

    rows = []
    for i, name in enumerate(names):
        waiting, running, scheduled, rq_failed = counts[4 * i: 4 * i + 4]
        rows.append({
            "name": name, "waiting": waiting, "running": running, "scheduled": scheduled, "rq_failed": rq_failed,
            "retrying": ledger.get(name, {}).get("retrying", 0), "dead": ledger.get(name, {}).get("dead", 0),
            "succeeded_last_hour": finished.get(name, 0), "failed_last_hour": failed.get(name, 0),
            "paused": name in paused, "workers": workers.get(name, []),
        })
    return rows
