"""Enqueue as users feel it: jobdesk beside bare RQ 2.12, three ways, in one run (issue 12's enqueue goals).

Run by hand, it is not a test: ``make bench-enqueue`` (about a minute), ``BENCH_ARGS=--quick`` for a
smoke run. It prints a table: measure, bare RQ jobs/s, jobdesk jobs/s, ratio (jobdesk / bare), goal.

(a) In a view's transaction. What a view does when it saves something and asks for work on it: one
    transaction that INSERTs a row (``bench_order``, created by this bench) and enqueues a no-op job.
    Bare RQ: ``transaction.on_commit(lambda: queue.enqueue(...))`` — the way to enqueue to RQ from a
    transaction without running work that is rolled back. jobdesk: ``jobs.enqueue.enqueue`` inside the
    block (its record is written in the same transaction; the RQ job is created on commit). Both pay the
    same commit; jobdesk adds the record's INSERT. The HTTP layer, identical on both sides, is left
    out. Goal: >= 0.8.
(b) Eight producers. ``--producers`` (8) processes, each enqueuing ``--per-producer`` jobs in
    autocommit, released together; jobs/s = all jobs / (last producer's end - first one's start).
    PostgreSQL's group commit shares the WAL flush between concurrent commits. Goal: >= 0.8. Beside it,
    the same eight producers doing only ``INSERT`` + ``COMMIT`` of a row (the durable part alone), and
    the ceiling that follows on a host whose CPU is the limit: a durable enqueue pays both, so it cannot
    beat 1 / (1 / bare RQ's rate + 1 / that floor's rate).
(c) One producer, autocommit. Each jobdesk ``enqueue`` is its own durable transaction (a WAL flush),
    which bare RQ does not pay: reported, with the floor measured beside it — the rate of bare
    ``INSERT`` + ``COMMIT`` of a row on the same connection, which no durable enqueue can beat.

Each figure is the best of ``--rounds`` rounds after an untimed warm-up. Isolation: its own PostgreSQL
database (``--database``, default ``jobdesk_enqueue_bench``, created and migrated) and Redis database
(``--redis-db``, 12), flushed and truncated between phases.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_environment, create_database, empty_ledger  # noqa: E402

JOB_TYPE = "bench.noop"
BARE_QUEUE = "bench-enqueue-bare"
BARE_NOOP = "bench.throughput.noop"
FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk", "postgres"}
ORDER_TABLE_SQL = "CREATE TABLE IF NOT EXISTS bench_order (id bigserial PRIMARY KEY, n integer NOT NULL, note text)"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="small counts, one round")
    add("--single", type=int, help="jobs per round for (a) and (c) (2000; quick 300)")
    add("--producers", type=int, default=8, help="producer processes for (b) (8)")
    add("--per-producer", type=int, help="jobs per producer for (b) (1000; quick 150)")
    add("--rounds", type=int, help="rounds per measure, best kept (3; quick 1)")
    add("--database", default="jobdesk_enqueue_bench", help="PostgreSQL database of the bench")
    add("--redis-db", type=int, default=12, help="Redis database of the bench (12)")
    add("--producer", choices=("bare", "jobdesk", "floor"), help="internal: run one producer of (b) and exit")
    args = parser.parse_args()
    for name, full, quick in (("single", 2000, 300), ("per_producer", 1000, 150), ("rounds", 3, 1)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database belongs to the project or its tests")
    return args


def setup(args, *, migrate):
    import logging

    import django

    os.environ.setdefault("QUEUE_NAMESPACE", "jdenqbench")
    bench_environment(args.database, args.redis_db, JOBS_TASK_MODULES="bench.jobtypes")
    if migrate:
        create_database(args.database)
    django.setup()
    logging.disable(logging.INFO)
    if migrate:
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0, interactive=False)
        with connection.cursor() as cursor:
            cursor.execute(ORDER_TABLE_SQL)


def bare_queue():
    from rq import Queue
    from rq.serializers import JSONSerializer

    from jobs.connection import redis_connection

    return Queue(BARE_QUEUE, connection=redis_connection(), serializer=JSONSerializer)


def reset():
    empty_ledger("bench_order")


def jobs_enqueued():
    from jobs.connection import get_queue, queue_name
    from jobs.models import JobRecord

    return bare_queue().count, JobRecord.objects.count(), get_queue(queue_name("default")).count


# --- (a) and (c): one producer ------------------------------------------------------------------------


def _insert_order(cursor, i):
    cursor.execute("INSERT INTO bench_order (n, note) VALUES (%s, %s)", [i, "order"])


def bare_in_view(n):
    from django.db import connection, transaction

    queue = bare_queue()
    start = time.perf_counter()
    for i in range(n):
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_order(cursor, i)
            transaction.on_commit(partial(queue.enqueue, BARE_NOOP, i))
    return n / (time.perf_counter() - start)


def jobdesk_in_view(n):
    from django.db import connection, transaction

    from jobs.enqueue import enqueue

    start = time.perf_counter()
    for i in range(n):
        with transaction.atomic(), connection.cursor() as cursor:
            _insert_order(cursor, i)
            enqueue(JOB_TYPE, {"n": i})
    return n / (time.perf_counter() - start)


def bare_autocommit(n):
    queue = bare_queue()
    start = time.perf_counter()
    for i in range(n):
        queue.enqueue(BARE_NOOP, i)
    return n / (time.perf_counter() - start)


def jobdesk_autocommit(n):
    from jobs.enqueue import enqueue

    start = time.perf_counter()
    for i in range(n):
        enqueue(JOB_TYPE, {"n": i})
    return n / (time.perf_counter() - start)


def commit_floor(n):
    """Durable commits per second on this connection: INSERT one row, COMMIT (autocommit)."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for i in range(n):
            _insert_order(cursor, i)
    return n / (time.perf_counter() - start)


def best_of(rounds, measure, n, check=None):
    measure(max(20, n // 10))  # warm-up: connections, caches
    best = 0.0
    for _ in range(rounds):
        reset()
        rate = measure(n)
        if check:
            check(n)
        best = max(best, rate)
    return best


def check_bare(n):
    bare, _, _ = jobs_enqueued()
    assert bare == n, f"bare RQ queue holds {bare} jobs, expected {n}"


def check_jobdesk(n):
    _, records, queued = jobs_enqueued()
    assert records == n and queued == n, f"jobdesk wrote {records} records and queued {queued}, expected {n}"


# --- (b): concurrent producers ------------------------------------------------------------------------


def producer_main(args):
    """One producer: get ready, wait for the go key, enqueue, print its start and end (wall clock)."""
    from jobs.connection import redis_connection

    go_key = f"bench-enqueue:go:{args.producer}"
    if args.producer == "bare":
        enqueue_one = partial(bare_queue().enqueue, BARE_NOOP)
    elif args.producer == "floor":
        from django.db import connection

        enqueue_one = lambda i: _insert_order(connection.cursor(), i)  # noqa: E731
    else:
        from jobs.enqueue import enqueue

        enqueue_one = lambda i: enqueue(JOB_TYPE, {"n": i})  # noqa: E731
    enqueue_one(-1)  # warm-up: connections, first statements
    redis = redis_connection()
    redis.incr(f"bench-enqueue:ready:{args.producer}")
    while not redis.exists(go_key):
        time.sleep(0.001)
    start = time.time()
    for i in range(args.per_producer):
        enqueue_one(i)
    print(json.dumps({"start": start, "end": time.time()}))


def concurrent_producers(args, side):
    from jobs.connection import redis_connection

    reset()
    redis = redis_connection()
    command = [sys.executable, __file__, "--producer", side, "--per-producer", str(args.per_producer),
               "--database", args.database, "--redis-db", str(args.redis_db)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(args.producers)]
    deadline = time.monotonic() + 120
    while int(redis.get(f"bench-enqueue:ready:{side}") or 0) < args.producers:
        if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
            for p in procs:
                p.kill()
            sys.exit(f"(b) {side}: producers did not get ready")
        time.sleep(0.01)
    redis.set(f"bench-enqueue:go:{side}", 1)
    spans = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        if p.returncode:
            sys.exit(f"(b) {side}: a producer failed with {p.returncode}")
        spans.append(json.loads(out.strip().splitlines()[-1]))
    total = args.producers * args.per_producer
    bare, records, queued = jobs_enqueued()
    expected = total + args.producers  # each producer's warm-up job too
    if side == "bare":
        assert bare == expected, f"bare RQ queue holds {bare}, expected {expected}"
    elif side == "floor":
        from django.db import connection

        with connection.cursor() as cursor:
            rows = cursor.execute("SELECT count(*) FROM bench_order").fetchone()[0]
        assert rows == expected, f"floor: {rows} rows, expected {expected}"
    else:
        assert records == expected and queued == expected, f"jobdesk: {records} records, {queued} queued, expected {expected}"
    return total / (max(s["end"] for s in spans) - min(s["start"] for s in spans))


def main():
    args = parse_args()
    if args.producer:
        setup(args, migrate=False)
        return producer_main(args)
    setup(args, migrate=True)
    from django.db import connection

    print(f"PostgreSQL {connection.pg_version}, synchronous_commit="
          f"{connection.cursor().execute('SHOW synchronous_commit').fetchone()[0]}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    print("(a) in a view's transaction ...", flush=True)
    bare = best_of(args.rounds, bare_in_view, args.single, check_bare)
    ours = best_of(args.rounds, jobdesk_in_view, args.single, check_jobdesk)
    rows.append(("(a) in a view's transaction, with a row", bare, ours, ">= 0.80"))
    print(f"(b) {args.producers} producers ...", flush=True)
    bare = max(concurrent_producers(args, "bare") for _ in range(args.rounds))
    ours = max(concurrent_producers(args, "jobdesk") for _ in range(args.rounds))
    floor = max(concurrent_producers(args, "floor") for _ in range(args.rounds))
    rows.append((f"(b) {args.producers} producers, autocommit", bare, ours, ">= 0.80"))
    rows.append((f"    floor: {args.producers} producers, INSERT + COMMIT alone", bare, floor, ""))
    rows.append(("    ceiling: 1 / (1/bare + 1/floor)", bare, 1 / (1 / bare + 1 / floor),
                 "(no durable enqueue beats it when CPU is the limit)"))
    print("(c) one producer, autocommit ...", flush=True)
    bare = best_of(args.rounds, bare_autocommit, args.single, check_bare)
    ours = best_of(args.rounds, jobdesk_autocommit, args.single, check_jobdesk)
    floor = best_of(args.rounds, commit_floor, args.single)
    rows.append(("(c) one producer, autocommit", bare, ours, "reported"))
    rows.append(("    floor: INSERT + COMMIT alone", bare, floor, "(no durable enqueue beats it)"))
    reset()
    print()
    print(f"{'measure':44} {'bare RQ/s':>10} {'jobdesk/s':>10} {'ratio':>7}  goal")
    for name, bare, ours, goal in rows:
        print(f"{name:44} {bare:10,.0f} {ours:10,.0f} {ours / bare:7.2f}  {goal}")


if __name__ == "__main__":
    main()
