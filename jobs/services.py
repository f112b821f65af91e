"""Staff-facing writes on jobs: retry, cancel, requeue now and delete. Each returns True when it acted, False when the job's
state did not allow it (the caller reports it as skipped), and never leaves Redis and the ledger at odds
for longer than one reconciler pass.
"""

import logging
import time

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from redis.exceptions import RedisError
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.serializers import JSONSerializer

from jobs import concurrency, registry, rq_internals, states
from jobs.connection import get_queue, redis_connection
from jobs.dispatch import dispatch, send
from jobs.models import TERMINAL_STATUSES, WAITING_STATUSES, JobRecord, Outcome, Status
from jobs.signals import staff_action

log = logging.getLogger(__name__)


def _reopen(record, *, expected, actor_id, reason):
    """``→ queued`` with a fresh budget of attempts (the job's own ``max_attempts`` if its enqueue gave
    one, else its type's) on top of those used; True if it won. A job that acts with its actor's rights
    (``acts_for_actor``: a bulk action) now acts for whoever reopened it, in the same transaction."""
    job_type = registry.get(record.job_type)
    budget = (record.options or {}).get("max_attempts") or job_type.attempts_allowed
    with transaction.atomic():
        won = states.transition(
            record, Status.QUEUED, expected=expected, actor_id=actor_id, reason=reason,
            max_attempts=min(32767, record.attempts + budget), run_at=None, cancel_requested=False,
            progress=0, progress_message="", result=None, succeeded_at=None, dead_at=None, canceled_at=None,
        )
        if won and job_type.acts_for_actor and record.actor_id != actor_id:
            JobRecord.objects.filter(pk=record.pk).update(actor_id=actor_id)
            record.actor_id = actor_id
    return won


def retry_job(record: JobRecord, *, actor=None, reason="retried by staff") -> bool:
    """Run a finished job again (dead, canceled or succeeded → queued): same record, new attempts.
    Refused (False) for a unique job whose key another job holds meanwhile (``jobs.unique``)."""
    try:
        with transaction.atomic():
            won = _reopen(record, expected=set(TERMINAL_STATUSES), actor_id=getattr(actor, "pk", actor), reason=reason)
            if won:
                transaction.on_commit(lambda: _redispatch(record))
    except IntegrityError:  # the unique index: another record holds the key in its scope
        return False
    return won


def adopt_rq_requeue(record_id, *, actor=None, reason="requeued in RQ (django-rq or rq requeue)") -> bool:
    """A dead job requeued in RQ itself (django-rq's failed-jobs page, ``rq requeue``) is a staff retry:
    the ledger reopens it so that it and RQ agree. django-rq's dashboard calls this with the staff member
    before its own requeue (``jobs.rq_dashboard``), so the audit names who did it; a worker handed a
    requeued job the ledger still calls dead (``rq requeue`` from a shell) calls it without one. Nothing
    is dispatched: RQ already has the job. False for an id that is not a dead record."""
    try:
        record = JobRecord.objects.filter(pk=record_id, status=Status.DEAD).first()
    except (ValueError, ValidationError):  # not a UUID: not one of jobdesk's jobs
        return False
    return bool(record) and _reopen(record, expected={Status.DEAD}, actor_id=getattr(actor, "pk", actor),
                                    reason=reason)


def requeue_job(record: JobRecord, *, actor=None) -> bool:
    """Run a waiting job now: skip what is left of its backoff or delay (retrying, or queued with a
    run time ahead); a pending one is sent to Redis at once. Its status does not change."""
    if record.status not in WAITING_STATUSES or (record.status != Status.PENDING and not record.run_at):
        return False
    updated = JobRecord.objects.filter(pk=record.pk, status=record.status).update(run_at=None)
    if not updated:
        return False
    record.run_at = None
    if record.status == Status.PENDING:
        from jobs.relay import relay_records

        relay_records([record.pk])
    else:
        _move_to_queue(record)
    staff_action.send(sender=JobRecord, actor=actor, action="job.requeued_now", resource_type="job",
                      resource_id=record.pk, data={"status": record.status})
    return True


def wake_job(record_id) -> bool:
    """Run a job that waits for its children (``jobs.errors.Waiting``: retrying until a check-back) now,
    because they have ended. False when it is not waiting (already woken, running, canceled). Its RQ job is
    moved from the scheduled registry to its queue when the caller's transaction commits. The waiting
    attempt may still be handing it to RQ's scheduled registry (its end and the children's are a race):
    it is looked for there for up to ``WAKE_WAIT`` seconds; failing that, its check-back runs it."""
    record = JobRecord.objects.filter(pk=record_id, status=Status.RETRYING).first()
    if record is None or not JobRecord.objects.filter(pk=record.pk, status=Status.RETRYING).update(run_at=None):
        return False
    record.run_at = None
    transaction.on_commit(lambda: _wake_in_rq(record), robust=True)
    return True


WAKE_WAIT = 1.0


def _wake_in_rq(record):
    queue = get_queue(record.queue)
    deadline = time.monotonic() + WAKE_WAIT
    try:
        while True:
            if record.rq_id in queue.scheduled_job_registry:
                queue.scheduled_job_registry.requeue(record.rq_id)
                return
            if not redis_connection().exists(rq_internals.job_key(record.rq_id)):
                send([record])
                return
            if time.monotonic() > deadline:
                return  # in its queue already (its check-back came), or that check-back will run it
            time.sleep(0.05)
    except (RedisError, InvalidJobOperation, NoSuchJobError) as exc:
        log.info("wake of %s not sent to Redis (its check-back or the reconciler will run it): %s", record.pk, exc)


def _move_to_queue(record):
    queue = get_queue(record.queue)
    try:
        if record.rq_id in queue.scheduled_job_registry:
            queue.scheduled_job_registry.requeue(record.rq_id)
        elif not redis_connection().exists(rq_internals.job_key(record.rq_id)):
            send([record])
    except RedisError as exc:
        log.info("requeue of %s not sent to Redis (the reconciler will): %s", record.pk, exc)


def delete_jobs(queryset, *, actor=None) -> int:
    """Delete finished jobs (with their attempts) from the ledger and from Redis; others are skipped."""
    records = list(queryset.filter(status__in=TERMINAL_STATUSES).only("id", "queue", "job_type"))
    if not records:
        return 0
    JobRecord.objects.filter(pk__in=[r.pk for r in records]).delete()
    try:
        rq_internals.forget(redis_connection(), [(record.rq_id, record.queue) for record in records])
    except RedisError as exc:
        log.info("deleted jobs left in Redis (they expire there): %s", exc)
    for record in records:
        staff_action.send(sender=JobRecord, actor=actor, action="job.deleted", resource_type="job",
                          resource_id=record.pk, data={"job_type": record.job_type})
    return len(records)


def _redispatch(record):
    try:
        # A dead job also sits in RQ's failed registry: take it out so both sides agree.
        redis_connection().zrem(rq_internals.failed_key(record.queue), record.rq_id)
    except RedisError:
        pass  # dispatch below meets the same error and leaves the job pending for the relay
    dispatch([record])


def cancel_job(record: JobRecord, *, actor=None, reason="canceled by staff") -> bool:
    """Cancel a job that has not finished. A waiting job is taken off its queue; a running one is stopped
    through RQ's stop-job command (its attempt is recorded as canceled)."""
    actor_id = getattr(actor, "pk", actor)
    with transaction.atomic():
        if record.status == Status.RUNNING:
            won = states.transition(record, Status.CANCELED, expected={Status.RUNNING}, attempt=record.attempts,
                                    actor_id=actor_id, reason=reason, cancel_requested=True)
            if won:
                states.close_open_attempt(record, Outcome.CANCELED, message=reason)
                transaction.on_commit(lambda: _stop_running(record))
        else:
            won = states.transition(record, Status.CANCELED, expected=set(WAITING_STATUSES), actor_id=actor_id,
                                    reason=reason, cancel_requested=True)
            if won:
                transaction.on_commit(lambda: _remove_waiting(record))
    return won


def _stop_running(record):
    """Stop the canceled job's run, then give back its concurrency slot: its work process ends itself on
    the stop command, so the runner never does (``jobs.concurrency.release_for``)."""
    try:
        send_stop_job_command(redis_connection(), record.rq_id, serializer=JSONSerializer)
    except (InvalidJobOperation, NoSuchJobError, RedisError) as exc:
        # Already finished or Redis away: the runner's own compare-and-set will not overwrite "canceled".
        log.info("stop command for %s not sent: %s", record.pk, exc)
    concurrency.release_for(record)


def _remove_waiting(record):
    try:
        rq_internals.forget(redis_connection(), [(record.rq_id, record.queue)])
    except RedisError as exc:
        # Left in Redis, the job is still skipped: the runner only runs a record that is waiting.
        log.info("could not remove canceled job %s from Redis: %s", record.pk, exc)
