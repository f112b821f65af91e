"""The job page's extras beside the ledger's fields: RQ's live view of the job, its audit timeline,
its parent and children."""

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.serializers import JSONSerializer

from jobs import timeline
from jobs.connection import redis_connection
from jobs.models import JobRecord

TIMELINE_LIMIT = 200


def job_page_context(record: JobRecord) -> dict:
    """What the job page shows beside the ledger: RQ's live view of the job, the timeline of its
    correlation ID (from the providers other apps register in ``jobs.timeline``), its parent and children."""
    entries = timeline.timeline_for(record.correlation_id, TIMELINE_LIMIT)
    return {
        "rq_state": rq_state(record),
        "timeline": entries,
        "timeline_truncated": len(entries) == TIMELINE_LIMIT,
        "children": list(record.children.order_by("created_at")[:50]),
    }


def rq_state(record):
    """The job as RQ sees it right now, or why it cannot be seen."""
    conn = redis_connection()
    try:
        job = RQJob.fetch(record.rq_id, connection=conn, serializer=JSONSerializer)
    except NoSuchJobError:
        return {"present": False, "note": "not in Redis (finished jobs are removed; the ledger keeps them)"}
    except RedisError as exc:
        return {"present": False, "note": f"Redis unavailable: {exc}"}
    return {
        "present": True, "status": job.get_status(refresh=False), "origin": job.origin,
        "enqueued_at": job.enqueued_at, "started_at": job.started_at, "ended_at": job.ended_at,
        "worker": job.worker_name, "timeout": job.timeout,
    }
