"""The RQ-callable entry point: ``run_job(record_id)`` runs one attempt of a ledger job.

It claims the record (``→ running``, one short transaction that also opens the attempt), runs the job
type's function with the validated payload and a ``JobContext``, and records the outcome (one more
short transaction): ``succeeded``; ``retrying`` with the type's backoff, handed back to RQ as a
``Retry`` so that RQ's scheduled registry holds the job until then; or ``dead``. Exceptions, timeouts and
non-retryable errors are each recorded as the attempt's outcome; the runner itself raises only for a
dead job, so that RQ's failed registry (and django-rq's views) show it too. In the default worker's
work process a success may be carried to the next job's claim (``jobs.finish_group``).
"""

import json
import logging
import math
import traceback
from datetime import timedelta

from django.utils import timezone
from rq import get_current_job
from rq.job import Retry
from rq.timeouts import JobTimeoutException

from jobs import concurrency, context, finish_group, ratelimit, registry, retries, services, states, waiting
from jobs.errors import Canceled, JobDied, JobError, Waiting
from jobs.models import Outcome, Status
from project import correlation, sentry

log = logging.getLogger(__name__)

# Large enough that RQ never gives up on its own: the ledger decides when a job is dead.
_RQ_RETRY_MAX = 1_000_000


def _error(exc):
    return (
        f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        str(exc)[:5000],
        "".join(traceback.format_exception(exc))[-20000:],
    )


def _worker_name():
    job = get_current_job()
    return (job.worker_name if job else "") or ""


def run_job(record_id):
    job = get_current_job()
    park = ratelimit.hold(job, record_id)
    if park is not None:
        # Over its type's rate limit for a while: wait in RQ's scheduled registry; the ledger still says queued.
        return _held(job, "rate_limit", park)
    limited = _limited_type(job)
    if limited is not None:
        scope = job.meta.get("scope")
        if not concurrency.acquire(limited, scope, record_id, timeout=job.timeout):
            # Every slot is taken: wait in RQ's scheduled registry; the ledger still says queued.
            return _held(job, "concurrency", concurrency.WAIT)
        try:
            return _claim_and_run(record_id)
        finally:
            concurrency.release(limited, scope, record_id)
    return _claim_and_run(record_id)


def _held(job, reason, seconds):
    """Park the RQ job for ``seconds`` without claiming its record. Why and until when go in the job's
    meta, saved with it by RQ's retry, for the API's job status (``rq_internals.held``)."""
    finish_group.flush()  # no claim to carry the previous job's end
    job.meta["held"] = {"reason": reason, "until": (timezone.now() + timedelta(seconds=seconds)).isoformat()}
    return Retry(max=_RQ_RETRY_MAX, interval=[seconds])


def _limited_type(job):
    if job is None or not job.description:
        return None
    try:
        job_type = registry.get(job.description)
    except JobError:  # not a job type's name: the claim below decides what to do
        return None
    return job_type if job_type.concurrency else None


def _claim_and_run(record_id):
    worker = _worker_name()
    carried = finish_group.take()  # the previous job's end, written by this claim (jobs.finish_group)
    try:
        with waiting.held_announcements() as ends:  # the carried end's, published with its acknowledgement
            record, attempt = states.start_attempt(record_id, worker=worker, after=carried and carried.finish)
    except BaseException:
        finish_group.put_back(carried)
        raise
    finish_group.settle(carried, ends)
    if record is None and services.adopt_rq_requeue(record_id):
        record, attempt = states.start_attempt(record_id, worker=worker)
    if record is None:
        log.info("job %s is not runnable any more (canceled, finished or taken); skipped", record_id)
        return None
    with correlation.bind(record.correlation_id):
        return _run_attempt(record, attempt)


def _run_attempt(record, attempt):
    job_type = registry.get(record.job_type)
    ctx = context.JobContext(
        record_id=record.pk, job_type=record.job_type, correlation_id=record.correlation_id,
        attempt=attempt.number, max_attempts=record.max_attempts, guild_id=record.guild_id,
        actor_id=record.actor_id,
    )
    token = context.bind(ctx)
    try:
        payload = job_type.payload.model_validate(record.payload)
        result = job_type.func(payload, ctx)
    except Waiting as exc:  # its work is in other jobs' hands: it waits for them (jobs.errors.Waiting)
        return _waiting(record, attempt, exc)
    except Canceled as exc:  # its work was called off meanwhile (jobs.errors.Canceled)
        if states.finish_attempt(record, attempt, Status.CANCELED, outcome=Outcome.CANCELED, reason=str(exc),
                                 error=_error(exc)):
            log.info("job %s (%s) canceled itself on attempt %d: %s", record.pk, record.job_type, attempt.number, exc)
        return None
    except Exception as exc:  # RQ's JobTimeoutException included: the attempt is recorded, not lost
        return _failed(record, attempt, job_type, exc)
    finally:
        context.unbind(token)
    finish = states.prepare_finish(record, attempt, Status.SUCCEEDED, outcome=Outcome.SUCCEEDED, progress=100,
                                   result=_storable_result(result))
    rq_job = get_current_job()
    if finish_group.defer(finish, rq_job.id if rq_job else None):  # written by the next claim (jobs.finish_group)
        return None
    if states.write_finishes([finish])[0]:
        log.info("job %s (%s) succeeded on attempt %d", record.pk, record.job_type, attempt.number)
    return None


def _waiting(record, attempt, exc):
    """``→ retrying`` until the check-back, the attempt closed as succeeded and given back to its budget."""
    delay = max(1, math.ceil(float(exc.seconds)))
    if states.finish_attempt(
        record, attempt, Status.RETRYING, outcome=Outcome.SUCCEEDED, retry_delay=delay, reason=exc.reason,
        run_at=timezone.now() + timedelta(seconds=delay), max_attempts=min(32767, record.max_attempts + 1),
    ):
        log.info("job %s (%s) waits after attempt %d: %s", record.pk, record.job_type, attempt.number, exc.reason)
        return Retry(max=_RQ_RETRY_MAX, interval=[delay])
    return None


def _failed(record, attempt, job_type, exc):
    outcome = Outcome.TIMEOUT if isinstance(exc, JobTimeoutException) else Outcome.FAILED
    error = _error(exc)
    step = retries.after_failure(record, job_type, attempt_number=attempt.number, retryable=job_type.is_retryable(exc))
    if step.status == Status.RETRYING:
        if states.finish_attempt(
            record, attempt, Status.RETRYING, outcome=outcome, error=error, retry_delay=step.delay,
            run_at=timezone.now() + timedelta(seconds=step.delay), reason=step.reason,
        ):
            log.warning("job %s attempt %d %s (%s): %s", record.pk, attempt.number, outcome, error[0], step.reason)
            # RQ's scheduled registry truncates to whole seconds: one more keeps the backoff from being cut short.
            return Retry(max=_RQ_RETRY_MAX, interval=[step.delay + 1])
        return None
    if states.finish_attempt(record, attempt, Status.DEAD, outcome=outcome, error=error, reason=step.reason):
        log.error("job %s is dead after attempt %d (%s): %s", record.pk, attempt.number, step.reason, error[0],
                  exc_info=exc)
        sentry.report_dead_job(exc)
        raise JobDied(f"{error[0]}: {error[1]}") from exc
    return None


def _storable_result(result):
    """The job's return value as the ledger keeps it: JSON as it is, anything else (an object, a NaN,
    which PostgreSQL's JSON refuses) as its ``repr``. A result that cannot be written would fail the
    write of the job's end and leave it running."""
    if result is None or isinstance(result, (str, int, bool)):
        return result
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError):
        return repr(result)
    return result
