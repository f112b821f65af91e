"""Reads of the ledger that views, the API and the admin share."""

from jobs.models import JobRecord


def job_detail(record_id) -> JobRecord | None:
    """A record with its attempts, or None (also for an id that is not a UUID)."""
    from django.core.exceptions import ValidationError

    try:
        return JobRecord.objects.prefetch_related("attempt_set").get(pk=record_id)
    except (JobRecord.DoesNotExist, ValidationError, ValueError):
        return None


def job_as_dict(record: JobRecord) -> dict:
    """The public view of a job: status, progress, attempts, result or error."""
    return {
        "id": str(record.pk),
        "job_type": record.job_type,
        "queue": record.queue,
        "status": record.status,
        "progress": record.progress,
        "progress_message": record.progress_message,
        "attempts": record.attempts,
        "max_attempts": record.max_attempts,
        "correlation_id": record.correlation_id,
        "guild_id": record.guild_id,
        "created_at": record.created_at,
        "run_at": record.run_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "result": record.result,
        "error": {"type": record.last_error_type, "message": record.last_error} if record.last_error_type else None,
        "attempt_log": [
            {
                "number": a.number, "worker": a.worker, "started_at": a.started_at, "ended_at": a.ended_at,
                "outcome": a.outcome, "error_type": a.error_type, "error_message": a.error_message,
            }
            for a in record.attempt_set.all()
        ],
    }
