"""Rollup rows made by hand (``JobMinuteStat``), for tests of what the queues page draws from them."""

from jobs import rollups
from jobs.models import JobMinuteStat


def stat(minute, queue, job_type, *, succeeded=0, failed=0, dead=0, run=(), wait=()):
    """One minute's row: ``run`` and ``wait`` are durations in ms, put in their buckets and summed."""
    counts = {"succeeded": succeeded, "failed": failed, "dead": dead, "run_count": len(run),
              "run_ms": round(sum(run)), "wait_count": len(wait), "wait_ms": round(sum(wait))}
    for ms in run:
        name = rollups.RUN_BUCKETS[rollups.bucket_of(ms)]
        counts[name] = counts.get(name, 0) + 1
    for ms in wait:
        name = rollups.WAIT_BUCKETS[rollups.bucket_of(ms)]
        counts[name] = counts.get(name, 0) + 1
    return JobMinuteStat.objects.create(minute=minute.replace(second=0, microsecond=0), queue=queue,
                                        job_type=job_type, **counts)
