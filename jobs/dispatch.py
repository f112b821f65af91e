"""Hand ledger records to RQ: one Redis pipeline per batch, JSON-serialized, job id = record id.

Every RQ job jobdesk creates calls ``jobs.runner.run_job(record_id)``: the payload stays in the
ledger, so Redis only ever carries an id, and a worker runs nothing the ledger does not know. RQ's job
timeout is the record's (a per-call ``timeout``, ``jobs.options``) or its type's, so it holds whenever
the record is sent again (relay, reconciler, staff retry).
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rq import Queue

from jobs import options
from jobs.connection import get_queue, redis_connection
from jobs.rq_internals import RUNNER

log = logging.getLogger(__name__)


def _job_data(record, job_type):
    # A type with a concurrency limit or a per-guild rate limit carries its scope (the guild), so that a
    # worker can take a slot before it claims the record (jobs.concurrency, jobs.ratelimit) without a read.
    by_guild = job_type.rate_limit is not None and job_type.rate_limit.by_guild
    meta = {"scope": record.guild_id} if job_type.concurrency or by_guild else None
    return Queue.prepare_data(
        RUNNER, args=(record.rq_id,), job_id=record.rq_id, timeout=options.timeout_of(record, job_type),
        result_ttl=settings.QUEUE_RESULT_TTL, failure_ttl=settings.QUEUE_FAILURE_TTL,
        description=record.job_type, meta=meta,
    )


def _whole_second_after(when):
    """RQ's scheduled registry keeps whole seconds and truncates: round up, never run early."""
    return when + timedelta(microseconds=1_000_000 - when.microsecond) if when.microsecond else when


def send(records, *, pipeline=None):
    """Put ``records`` on their RQ queues (or scheduled registries, when ``run_at`` is ahead).

    One pipeline for the whole batch, executed here unless the caller passes its own. Raises the
    Redis error when Redis is unreachable; see ``dispatch`` for the forgiving variant.
    """
    from jobs import registry

    now = timezone.now()
    immediate = defaultdict(list)
    pipe = pipeline if pipeline is not None else redis_connection().pipeline(transaction=False)
    for record in records:
        queue = get_queue(record.queue)
        data = _job_data(record, registry.get(record.job_type))
        if record.run_at and record.run_at > now:
            job = queue.create_job(
                data.func, args=data.args, job_id=data.job_id, timeout=data.timeout, result_ttl=data.result_ttl,
                failure_ttl=data.failure_ttl, description=data.description, meta=data.meta,
            )
            queue.schedule_job(job, _whole_second_after(record.run_at), pipeline=pipe)
        else:
            immediate[queue].append(data)
    for queue, datas in immediate.items():
        queue.enqueue_many(datas, pipeline=pipe)
    if pipeline is None:
        pipe.execute()


def dispatch(records):
    """``send`` after commit; on a Redis error the records are marked ``pending`` for the relay.

    Never raises for Redis trouble: the caller's work is committed and the job is not lost.
    """
    from redis.exceptions import RedisError

    from jobs import states
    from jobs.models import Status

    try:
        send(records)
    except RedisError as exc:
        log.warning("Redis unavailable, %d job(s) left pending for the relay: %s", len(records), exc)
        for record in records:
            try:
                states.transition(record, Status.PENDING, expected={Status.QUEUED}, reason=f"dispatch failed: {exc}")
            except Exception:  # the database may be gone too: the reconciler finds the row later
                log.exception("could not mark job %s pending", record.pk)
