"""Rate-limit accuracy: the rate achieved against the rate declared, with two real workers.

Run by hand, it is not a test (about 40 s)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \\
        .venv/bin/python bench/rate_limit_accuracy.py [--rate 20/s] [--seconds 30] [--redis-db 13]

It declares ``bench.rate_limited`` (a no-op that records its start time in Redis) with the rate limit
``--rate``, enqueues more jobs than the workers may start in ``--seconds`` (so the backlog never runs
dry), starts two ``manage.py rqworker --with-scheduler`` processes and, once ``--seconds`` plus a margin
have passed, counts the starts in the central ``--seconds`` (the first second left out). It prints the
achieved rate, the ratio achieved / declared (goal: within 10% of 1), the most starts seen in any one
window of the limit (never above the limit) and the slowest and fastest whole windows.

Isolation: its own PostgreSQL database (``--database``, created and migrated if missing, its ledger
truncated) and Redis database (``--redis-db``, flushed before and after).
"""

import argparse
import bisect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

JOB_TYPE = "bench.rate_limited"
STARTS = "bench-rate:starts"
TASK_MODULE = "bench.rate_limit_accuracy"

if __name__ != "__main__":
    # Imported as a task module (JOBS_TASK_MODULES) by Django, here and in the workers: declare the type.
    from pydantic import BaseModel

    from jobs.connection import redis_connection
    from jobs.registry import job_type

    class _Nothing(BaseModel):
        n: int = 0

    @job_type(JOB_TYPE, payload=_Nothing, rate_limit=os.environ.get("BENCH_RATE_LIMIT", "20/s"))
    def rate_limited(payload, ctx):
        """Record when the job body started and, beside it, the slot the limiter admitted it at (its
        entry in the sliding log, ``<record id>:<time>``): the limit is promised on the latter."""
        from jobs import ratelimit, registry

        started = time.time()
        conn = redis_connection()
        key = ratelimit._log_key(registry.get(JOB_TYPE), "all")
        admitted = next((m.decode().rsplit(":", 1)[1] for m, _ in conn.zscan_iter(key, match=f"{ctx.record_id}:*")),
                        "nan")
        conn.rpush(STARTS, f"{started!r} {admitted}")


def _workers(count, queue, log_dir):
    procs = []
    for i in range(count):
        log = open(Path(log_dir) / f"rate-worker-{i}.log", "wb")
        procs.append(subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", queue, "--with-scheduler", "--worker-ttl", "16"],
            cwd=BASE_DIR, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
    return procs


def _stop(procs):
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker's scheduler process, if it outlived the worker
        except ProcessLookupError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", default="20/s", help="the declared rate limit (default 20/s)")
    parser.add_argument("--seconds", type=int, default=30, help="length of the measured span (default 30)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", default="jobdesk_rate_bench")
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()
    if args.database in {"jobdesk", "test_jobdesk"}:
        sys.exit(f"refusing to use the database {args.database!r}")

    from bench.common import bench_environment, create_database

    bench_environment(args.database, args.redis_db, QUEUE_NAMESPACE="jdratebench", JOBS_TASK_MODULES=TASK_MODULE,
                      BENCH_RATE_LIMIT=args.rate)
    create_database(args.database)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from jobs.models import JobRecord

    JobRecord.objects.all().delete()
    for line in report_lines(measure(args.rate, args.seconds, args.workers)):
        print(line)


def measure(rate_text, seconds, workers=2, log_dir=None):
    """Run the measure in this process, Django already set up on a bench database and Redis db (flushed
    here, before and after) with this module among JOBS_TASK_MODULES and BENCH_RATE_LIMIT=``rate_text``
    (in this process's environment, so that the workers declare the same limit). Returns a dict for
    ``report_lines``. Used by ``main`` and by ``bench/throughput.py --features``."""
    from jobs.connection import queue_name, redis_connection
    from jobs.enqueue import enqueue_many
    from jobs.ratelimit import RateLimit

    if os.environ.get("BENCH_RATE_LIMIT") != rate_text:
        raise RuntimeError(f"BENCH_RATE_LIMIT must be {rate_text!r} in this process's environment")
    rate = RateLimit.parse(rate_text)
    declared = rate.limit / rate.per
    conn = redis_connection()
    conn.flushdb()
    total = int(declared * (seconds + 3)) + rate.limit
    for start in range(0, total, 1000):
        enqueue_many(JOB_TYPE, [{"n": i} for i in range(start, min(total, start + 1000))])

    log_dir = Path(log_dir or os.environ.get("TMPDIR", "/tmp"))
    procs = _workers(workers, queue_name("default"), log_dir)
    try:
        deadline = time.monotonic() + 60
        while not conn.llen(STARTS) and time.monotonic() < deadline:
            time.sleep(0.1)
        first = float(conn.lindex(STARTS, 0).split()[0])
        while time.time() < first + seconds + 2 and time.monotonic() < deadline + seconds:
            time.sleep(0.5)
        pairs = [item.split() for item in conn.lrange(STARTS, 0, -1)]
        times = sorted(float(t) for t, _ in pairs)
        admitted = sorted(float(a) for _, a in pairs if a != b"nan")
    finally:
        _stop(procs)
        conn.flushdb()

    begin = times[0] + rate.per
    end = begin + seconds
    central = [t for t in times if begin <= t < end]
    achieved = len(central) / seconds
    windows = int(seconds // rate.per)
    per_window = [sum(1 for t in central if begin + i * rate.per <= t < begin + (i + 1) * rate.per)
                  for i in range(windows)]
    busiest = max(bisect.bisect_left(times, t + rate.per) - i for i, t in enumerate(times))
    busiest_admitted = max((bisect.bisect_left(admitted, t + rate.per) - i for i, t in enumerate(admitted)), default=0)
    return {"busiest_admitted": busiest_admitted, "admitted_seen": len(admitted),"rate": rate, "declared": declared, "seconds": seconds, "workers": workers, "started": len(times),
            "achieved": achieved, "ratio": achieved / declared, "busiest": busiest,
            "fewest_window": min(per_window), "most_window": max(per_window)}


def report_lines(r):
    rate = r["rate"]
    return [
        f"declared {rate} ({r['declared']:g} jobs/s), {r['workers']} workers, {r['started']} jobs started",
        f"achieved over the central {r['seconds']} s: {r['achieved']:.2f} jobs/s, ratio {r['ratio']:.3f}",
        f"most starts in any {rate.per:g} s window: {r['busiest']} as the job bodies saw them (they start a"
        f" claim after their slot), {r['busiest_admitted']} by admitted slot (limit {rate.limit};"
        f" {r['admitted_seen']} slots read)",
        f"whole windows: fewest {r['fewest_window']}, most {r['most_window']} starts",
    ]

if __name__ == "__main__":
    main()
