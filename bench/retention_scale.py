"""Retention on a big ledger: how fast a pruning pass removes rows, and whether it holds up enqueues.

Run by hand, it is not a test (seeding 1,000,000 records by generate_series takes ~1 min)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \\
    .venv/bin/python bench/retention_scale.py [--rows N] [--quick] [--batch B] [--redis-db D] [--database NAME]

Isolation: its own PostgreSQL database (``--database``, default ``jobdesk_retention_bench``, on the host
of DATABASE_URL: dropped, created and migrated at start; the suite's and the other benches' databases
are refused) and its own Redis database (``--redis-db``, default 12, flushed at start and at the end).

Seeding, by one ``INSERT … SELECT generate_series`` (audit triggers off for that statement's session:
``session_replication_role = replica``): N records of ten job types finishing evenly over the last 58
days (one every 5 s at 1,000,000): 90% succeeded, 5% dead, 2% canceled, 3% open (queued, running,
retrying), and one attempt per started record. With the default rules (7 days succeeded, 30 days dead
and canceled, the last 500 of each type kept) about three quarters of the ledger is due. Then VACUUM
ANALYZE.

Measured:
1. EXPLAIN (ANALYZE, BUFFERS) of the batch SELECTs ``jobs.retention`` runs (succeeded; dead of one
   type below its keep threshold; each also from the middle, as a later batch does): the plan must be an
   index range scan, never a Seq Scan or a sort of the whole set.
2. A baseline: an enqueuer thread in this process calls ``enqueue("bench.noop", …)`` one job at a time
   (INSERT, COMMIT, Redis pipeline) for ``--baseline`` seconds (10): latency p50, p99, max.
3. The same enqueuer while ``jobs.retention.prune`` runs in a separate process (no GIL shared with the
   enqueuer; what ``manage.py jobs_prune`` and the hourly job run): rows removed, rows/s, and the
   latency of the enqueues that started while it pruned (its start-up excluded) : p50, p99, max. The
   longest enqueue bounds how long a pruning pass held an enqueue up (lock waits included).
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, percentile, raw_connection  # noqa: E402

FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk", "jobdesk_bench", "jobdesk_admin_bench", "jobdesk_export_bench",
                       "postgres", "template0", "template1"}
FORBIDDEN_REDIS_DBS = {8, 11, 13, 14}  # the export, admin and throughput benches', the test suite's

SPAN_SECONDS = 5_000_000  # 58 days: one record finishing every 5 s at 1,000,000 records
SEED_SQL = """
INSERT INTO jobs_jobrecord (
    id, job_type, queue, priority, payload, status, attempts, max_attempts, correlation_id, progress,
    progress_message, last_error_type, last_error, worker, cancel_requested, status_note, created_at,
    queued_at, started_at, succeeded_at, dead_at, canceled_at, status_changed_at)
SELECT gen_random_uuid(), 'bench.type' || ((i / 7) %% 10), %(queue)s, 'default', jsonb_build_object('n', i), s.status,
       CASE WHEN s.status IN ('queued') THEN 0 ELSE 1 END, 3, 'bench-' || i, 0, '',
       CASE WHEN s.status = 'dead' THEN 'bench.Error' ELSE '' END,
       CASE WHEN s.status = 'dead' THEN 'it broke' ELSE '' END, 'bench-worker', false, '{}'::jsonb,
       t.at - interval '1 second', t.at - interval '1 second',
       CASE WHEN s.status = 'queued' THEN NULL ELSE t.at - interval '500 milliseconds' END,
       CASE WHEN s.status = 'succeeded' THEN t.at END, CASE WHEN s.status = 'dead' THEN t.at END,
       CASE WHEN s.status = 'canceled' THEN t.at END, t.at
FROM generate_series(1, %(rows)s) AS i,
     LATERAL (SELECT now() - i * %(step)s * interval '1 second' AS at) AS t,
     LATERAL (SELECT CASE WHEN i %% 100 < 90 THEN 'succeeded' WHEN i %% 100 < 95 THEN 'dead'
                          WHEN i %% 100 < 97 THEN 'canceled' WHEN i %% 100 = 97 THEN 'queued'
                          WHEN i %% 100 = 98 THEN 'running' ELSE 'retrying' END AS status) AS s
"""
ATTEMPTS_SQL = """
INSERT INTO jobs_jobattempt (record_id, number, queue, worker, correlation_id, started_at, ended_at, outcome,
                             error_type, error_message, traceback)
SELECT id, 1, queue, worker, correlation_id, started_at,
       CASE WHEN status = 'running' THEN NULL ELSE status_changed_at END,
       CASE status WHEN 'succeeded' THEN 'succeeded' WHEN 'running' THEN 'running' WHEN 'canceled' THEN 'canceled'
                   ELSE 'failed' END,
       last_error_type, last_error, CASE WHEN status = 'dead' THEN 'Traceback (most recent call last): …' ELSE '' END
FROM jobs_jobrecord WHERE started_at IS NOT NULL
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--rows", type=int, default=1_000_000, help="Records to seed (1,000,000)")
    add("--quick", action="store_true", help="A smoke run: 50,000 records, 3 s baseline")
    add("--batch", type=int, default=None, help="Rows per pruning transaction (jobs.retention.BATCH)")
    add("--baseline", type=float, default=10.0, help="Seconds of enqueues without pruning (10)")
    add("--database", default="jobdesk_retention_bench")
    add("--redis-db", type=int, default=12, help="Redis database, flushed at start and end (12)")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.baseline = 50_000, 3.0
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: refused (another use's database)")
    if args.redis_db in FORBIDDEN_REDIS_DBS:
        parser.error(f"--redis-db {args.redis_db}: used by the test suite or another bench")

    bench_environment(args.database, args.redis_db, JOBS_TASK_MODULES="bench.jobtypes",
                      QUEUE_NAMESPACE=os.environ.get("QUEUE_NAMESPACE", "jdretention"))
    create_database(args.database, fresh=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print_results(**measure(args.rows, args.batch, args.baseline))


def measure(rows, batch=None, baseline=10.0, explain=True):
    """Seed ``rows`` records, then time a baseline of enqueues and a pruning pass with enqueues beside it.
    Django must be set up on a migrated bench database whose ledger is empty, with ``bench.noop`` declared
    (JOBS_TASK_MODULES=bench.jobtypes); its Redis db is flushed before and after. Returns the keyword
    arguments of ``print_results``. Used by ``main`` and by ``bench/throughput.py --features``."""
    from jobs import retention
    from jobs.connection import queue_name, redis_connection

    batch = batch or retention.BATCH
    redis_connection().flushdb()
    seed(rows, queue_name("default"))
    try:
        if explain:
            explain_batches(batch)
        base = enqueue_while(lambda stop: stop.wait(baseline))
        report = {}
        during = enqueue_while(lambda stop: run_prune(batch, report))
    finally:
        redis_connection().flushdb()
    return {"rows": rows, "batch": batch, "report": report, "baseline": base, "during": during}


def seed(rows, queue):
    started = time.monotonic()
    with raw_connection() as conn:
        conn.execute("SET session_replication_role = replica")  # no audit trigger, no FK trigger: a bench
        conn.execute(SEED_SQL, {"rows": rows, "queue": queue, "step": SPAN_SECONDS / rows})
        conn.execute(ATTEMPTS_SQL)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE jobs_jobrecord")
        conn.execute("VACUUM ANALYZE jobs_jobattempt")
        counts = dict(conn.execute("SELECT status, count(*) FROM jobs_jobrecord GROUP BY status").fetchall())
        attempts = conn.execute("SELECT count(*) FROM jobs_jobattempt").fetchone()[0]
    print(f"seeded {rows:,} records ({', '.join(f'{n:,} {s}' for s, n in sorted(counts.items()))}) and "
          f"{attempts:,} attempts in {time.monotonic() - started:.1f} s")


def explain_batches(batch):
    """EXPLAIN ANALYZE the first and a middle batch of the two kinds of SELECT a pass runs."""
    from django.db import connection, transaction

    from jobs import retention
    from jobs.models import JobRecord, Status

    rules = retention.rules()
    cases = []
    cutoff = rules[Status.SUCCEEDED][0]
    middle = (JobRecord.objects.filter(status=Status.SUCCEEDED, succeeded_at__lt=cutoff)
              .order_by("succeeded_at").values_list("succeeded_at", flat=True)[50_000:50_001])
    cases.append(("succeeded, first batch", retention.batch_query(Status.SUCCEEDED, cutoff, batch)))
    if middle:
        cases.append(("succeeded, a later batch",
                      retention.batch_query(Status.SUCCEEDED, cutoff, batch, after=middle[0])))
    cutoff, keep = rules[Status.DEAD]
    keep_from = retention._nth_newest(Status.DEAD, "bench.type1", keep)
    if keep_from:
        cases.append(("dead of one type below its last 500",
                      retention.batch_query(Status.DEAD, min(cutoff, keep_from), batch, job_type="bench.type1")))
    with connection.cursor() as cursor:
        started = time.monotonic()
        types = retention._job_types(Status.DEAD)
        print(f"\nloose index scan for the dead rows' job types: {len(types)} types in "
              f"{(time.monotonic() - started) * 1000:.1f} ms")
        for title, query in cases:
            with transaction.atomic():
                sql, params = query.query.sql_with_params()
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                plan = [row[0] for row in cursor.fetchall()]
                transaction.set_rollback(True)
            print(f"\nEXPLAIN {title}:")
            for line in plan:
                print("   ", line)
            if any("Seq Scan" in line for line in plan):
                print("    !! a Seq Scan: this batch does not go through an index")


def enqueue_while(action):
    """Enqueue one job at a time in a thread while ``action(stop_event)`` runs: ``(start, latency)``
    of each enqueue (``time.time()``, seconds)."""
    from django.db import connection

    from jobs.enqueue import enqueue

    timings, stop = [], threading.Event()

    def loop():
        n = 0
        try:
            while not stop.is_set():
                at, started = time.time(), time.perf_counter()
                enqueue("bench.noop", {"n": n})
                timings.append((at, time.perf_counter() - started))
                n += 1
        finally:
            connection.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(0.5)  # its connection is open and warm before the clock starts
    start = time.time()
    try:
        window = action(stop) or (start, time.time())
    finally:
        stop.set()
        thread.join(30)
    latencies = [latency for at, latency in timings if window[0] <= at <= window[1]]
    return {"latencies": latencies, "seconds": window[1] - window[0]}


PRUNE = """
import json, time, django
django.setup()
from jobs.retention import prune
start = time.time()
report = prune(batch={batch})
print(json.dumps({{"start": start, "end": time.time(), **report}}))
"""


def run_prune(batch, report):
    """Prune in a separate process; fill ``report``; return the wall-clock window of the pass itself."""
    done = subprocess.run([sys.executable, "-c", PRUNE.format(batch=batch)], cwd=BASE_DIR, env=dict(os.environ),
                          capture_output=True, text=True, timeout=3600)
    if done.returncode:
        sys.exit(f"the pruning process failed:\n{done.stderr[-3000:]}")
    report.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return report["start"], report["end"]


def print_results(rows, batch, report, baseline, during):
    def line(title, run):
        values = run["latencies"]
        if not values:
            return f"{title:<28} no enqueues"
        ms = [v * 1000 for v in values]
        return (f"{title:<28} {len(ms):>6,} enqueues in {run['seconds']:5.1f} s   p50 {percentile(ms, .5):6.2f} ms   "
                f"p99 {percentile(ms, .99):6.2f} ms   max {max(ms):7.2f} ms")

    print(f"\npruning pass (jobs.retention.prune, batch {batch}, its own process) over {rows:,} records:")
    detail = ", ".join(f"{n:,} {status}" for status, n in sorted(report["by_status"].items())) or "nothing"
    print(f"  removed {report['removed']:,} ({detail}) in {report['batches']:,} batches, {report['seconds']:.1f} s: "
          f"{report['removed'] / max(report['seconds'], 1e-9):,.0f} rows/s")
    print("\nenqueue latency, one job at a time (INSERT + COMMIT + Redis pipeline):")
    print("  " + line("without pruning", baseline))
    print("  " + line("during the pruning pass", during))


if __name__ == "__main__":
    main()
