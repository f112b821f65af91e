"""Memory of jobdesk's default worker over many jobs: does it grow? (issue 12: growth < 10% over 100,000 jobs)

Run by hand, it is not a test: ``make bench-memory`` (about 10 minutes for 100,000 jobs on this 2-core
machine; ``BENCH_ARGS="--jobs 20000"`` for a shorter run).

``--jobs`` no-op ``bench.noop`` jobs are enqueued first (``enqueue_many``, untimed), then one
``manage.py rqworker <ns>.default --burst`` runs them with the default worker class
(``jobs.persistent_worker.PersistentWorker``: one reused work process). Every second the bench reads,
from ``/proc``, the resident set (RSS) of the worker and of its work process, and counts the ledger's
succeeded records. Two runs:

1. production settings: the work process retires after ``QUEUE_WORKER_MAX_JOBS`` (1,000) jobs, so its RSS
   is bounded by design; the figure that matters is the worker's own RSS and the sum.
2. ``QUEUE_WORKER_MAX_JOBS`` above ``--jobs``: one work process runs every job, so its own growth shows
   any leak per job that recycling would otherwise hide.

Growth = (RSS at the end - RSS once 10% of the jobs were done) / RSS at 10%: the first jobs warm caches
(statement caches, imports done lazily), which is not growth. Printed per process and for the sum.

Isolation: its own database (``--database``, default ``jobdesk_memory_bench``) and Redis db (``--redis-db``,
10), truncated and flushed at start.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, empty_ledger  # noqa: E402

JOB_TYPE = "bench.noop"
PAGE = os.sysconf("SC_PAGE_SIZE")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs per run (100,000)")
    parser.add_argument("--database", default="jobdesk_memory_bench")
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument("--only", choices=("recycled", "one-process"), help="run only one of the two runs")
    return parser.parse_args()


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20
    except OSError:
        return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def setup(args):
    import logging

    import django
    from django.core.management import call_command

    os.environ.setdefault("QUEUE_NAMESPACE", "jdmembench")
    bench_environment(args.database, args.redis_db, JOBS_TASK_MODULES="bench.jobtypes", LOG_FORMAT="text")
    create_database(args.database)
    django.setup()
    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0, interactive=False)


def reset_and_enqueue(n):
    from jobs.enqueue import enqueue_many

    empty_ledger()
    for start in range(0, n, 1000):
        enqueue_many(JOB_TYPE, [{"n": i} for i in range(start, min(n, start + 1000))])


def succeeded():
    from jobs.models import JobRecord, Status

    return JobRecord.objects.filter(status=Status.SUCCEEDED).count()


def run(n, label, **env):
    from jobs.connection import queue_name

    reset_and_enqueue(n)
    log = open(f"/tmp/jobdesk-memory-bench-{label}.log", "wb")
    command = [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", queue_name("default"), "--burst"]
    proc = subprocess.Popen(command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **{k: str(v) for k, v in env.items()}}, start_new_session=True)
    samples = []  # (done, worker MB, work process MB, work process pid)
    start = time.monotonic()
    while proc.poll() is None:
        time.sleep(1)
        kids = children(proc.pid)
        worker, process = rss_mb(proc.pid), (rss_mb(kids[0]) if kids else None)
        if worker is not None and process is not None:
            samples.append((succeeded(), worker, process, kids[0]))
    elapsed = time.monotonic() - start
    log.close()
    done = succeeded()
    if proc.returncode or done != n:
        sys.exit(f"{label}: worker exit {proc.returncode}, {done} of {n} succeeded; see {log.name}")
    at10 = next(s for s in samples if s[0] >= n // 10)
    end = samples[-1]
    pids = len({s[3] for s in samples})
    print(f"\n{label}: {n:,} jobs in {elapsed:.0f} s ({n / elapsed:,.0f} jobs/s), {pids} work process(es) seen")
    print(f"{'process':16} {'MB at 10%':>10} {'MB at end':>10} {'max MB':>8} {'growth':>8}")
    for name, i in (("worker", 1), ("work process", 2)):
        peak = max(s[i] for s in samples)
        print(f"{name:16} {at10[i]:10.1f} {end[i]:10.1f} {peak:8.1f} {(end[i] - at10[i]) / at10[i]:8.1%}")
    both10, both_end = at10[1] + at10[2], end[1] + end[2]
    print(f"{'sum':16} {both10:10.1f} {both_end:10.1f} {max(s[1] + s[2] for s in samples):8.1f} "
          f"{(both_end - both10) / both10:8.1%}   (goal: growth < 10%)")


def main():
    args = parse_args()
    setup(args)
    if args.only != "one-process":
        run(args.jobs, "recycled")
    if args.only != "recycled":
        run(args.jobs, "one-process", QUEUE_WORKER_MAX_JOBS=args.jobs + 1)


if __name__ == "__main__":
    main()
