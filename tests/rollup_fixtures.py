"""Rollup rows made by hand (through ``jobs.rollups.merge``, as the aggregation writes them: the minute
and its hour), for tests of what the queues page draws from them."""

from jobs import rollups


def stat(minute, queue, job_type, *, succeeded=0, failed=0, dead=0, run=(), wait=()):
    """One minute's counts, added to its minute and hour rows: ``run`` and ``wait`` are durations in ms,
    put in their buckets and summed."""
    counts = {"succeeded": succeeded, "failed": failed, "dead": dead, "run_count": len(run),
              "run_ms": round(sum(run)), "wait_count": len(wait), "wait_ms": round(sum(wait))}
    for ms in run:
        name = rollups.RUN_BUCKETS[rollups.bucket_of(ms)]
        counts[name] = counts.get(name, 0) + 1
    for ms in wait:
        name = rollups.WAIT_BUCKETS[rollups.bucket_of(ms)]
        counts[name] = counts.get(name, 0) + 1
    counts = {**dict.fromkeys(rollups.COUNTS, 0), **counts}
    rollups.merge({(minute.replace(second=0, microsecond=0), queue, job_type): counts})


def synthetic_stats(now, *, days, types, seed=13):
    """Counts for ``rollups.merge`` (``{(minute, queue, job_type): counts}``) for every minute of the last ``days`` days up to ``now``, with a
    daily swell: ``types`` is ``[(queue, job_type, jobs per minute, failed share, run ms, wait ms)]``;
    durations are drawn log-normal around the given ms. For pictures (the browser test's screenshot)
    and the page bench."""
    import math
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    end = now.replace(second=0, microsecond=0)
    stats = {}
    for back in range(days * 1440):
        minute = end - timedelta(minutes=back)
        swell = 1 + 0.6 * math.sin(2 * math.pi * (minute.hour * 60 + minute.minute) / 1440)
        for queue, job_type, rate, fail_share, run, wait in types:
            n = max(0, round(rng.gauss(rate * swell, rate * 0.3)))
            if not n:
                continue
            failed = sum(rng.random() < fail_share * (3 if 600 <= back < 630 else 1) for _ in range(n))
            counts = dict.fromkeys(rollups.COUNTS, 0)
            counts.update(succeeded=n - failed, failed=failed, dead=sum(rng.random() < 0.2 for _ in range(failed)),
                          run_count=n, wait_count=n)
            for _ in range(n):
                for kind, centre in (("run", run), ("wait", wait)):
                    ms = rng.lognormvariate(math.log(centre), 0.8)
                    counts[f"{kind}_ms"] += round(ms)
                    name = f"{kind}_{rollups.bucket_of(ms)}"
                    counts[name] += 1
            stats[(minute, queue, job_type)] = counts
    return stats
