"""Staff-facing writes on jobs: retry and cancel. Each returns True when it acted, False when the job's
state did not allow it (the caller reports it as skipped), and never leaves Redis and the ledger at odds
for longer than one reconciler pass.
"""

import logging

from django.db import transaction
from redis.exceptions import RedisError
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.serializers import JSONSerializer

from jobs import registry, states
from jobs.connection import redis_connection
from jobs.dispatch import dispatch
from jobs.models import TERMINAL_STATUSES, WAITING_STATUSES, JobRecord, Outcome, Status

log = logging.getLogger(__name__)


def retry_job(record: JobRecord, *, actor=None, reason="retried by staff") -> bool:
    """Run a finished job again (dead, canceled or succeeded → queued): same record, new attempts.

    The job gets a fresh budget of its type's attempts on top of those it has used.
    """
    job_type = registry.get(record.job_type)
    with transaction.atomic():
        won = states.transition(
            record, Status.QUEUED, expected=set(TERMINAL_STATUSES), actor_id=getattr(actor, "pk", actor),
            reason=reason, max_attempts=min(32767, record.attempts + job_type.attempts_allowed), run_at=None,
            cancel_requested=False, progress=0, progress_message="", result=None, succeeded_at=None,
            dead_at=None, canceled_at=None,
        )
        if won:
            transaction.on_commit(lambda: _redispatch(record))
    return won


def _redispatch(record):
    try:
        # A dead job also sits in RQ's failed registry: take it out so both sides agree.
        redis_connection().zrem(f"rq:failed:{record.queue}", record.rq_id)
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
    try:
        send_stop_job_command(redis_connection(), record.rq_id, serializer=JSONSerializer)
    except (InvalidJobOperation, NoSuchJobError, RedisError) as exc:
        # Already finished or Redis away: the runner's own compare-and-set will not overwrite "canceled".
        log.info("stop command for %s not sent: %s", record.pk, exc)


def _remove_waiting(record):
    try:
        pipe = redis_connection().pipeline(transaction=False)
        pipe.lrem(f"rq:queue:{record.queue}", 0, record.rq_id)
        pipe.zrem(f"rq:scheduled:{record.queue}", record.rq_id)
        pipe.delete(f"rq:job:{record.rq_id}")
        pipe.execute()
    except RedisError as exc:
        # Left in Redis, the job is still skipped: the runner only runs a record that is waiting.
        log.info("could not remove canceled job %s from Redis: %s", record.pk, exc)
