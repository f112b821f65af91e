"""Throughput of jobdesk beside bare RQ 2.12, in one run, on the same Redis and PostgreSQL.

Run by hand, it is not a test: ``make bench`` (a few minutes), or ``.venv/bin/python bench/throughput.py
--quick`` with the Makefile's environment for a short run (``--help`` lists the counts to override). It
prints a table: metric, bare RQ, jobdesk, ratio (jobdesk / bare) and the goal of the issue.

What is measured, each side doing the same thing (a no-op job, JSON serializer on both sides):

1. single enqueue, jobs/s: bare ``Queue.enqueue("bench.throughput.noop", i)`` in a loop, against
   ``jobs.enqueue.enqueue("bench.noop", {"n": i})`` in a loop, in autocommit: each call is its own
   transaction (an INSERT of the record and of its audit event, a COMMIT, then one Redis pipeline),
   which is what a view does. Goal: jobdesk >= 50% of bare RQ.
2. batch enqueue, jobs/s: bare ``Queue.enqueue_many`` (one pipeline per batch, ``prepare_data``
   included) against ``jobs.enqueue.enqueue_many`` (validation, one multi-row INSERT, one pipeline), in
   batches of ``--batch-size``. Goal: jobdesk >= 5,000 jobs/s.
   Both enqueue figures are the best of ``--rounds`` rounds, after a short untimed warm-up.
3. end to end, jobs/s, with one and with two workers, for RQ's SimpleWorker and for the forking
   Worker: N jobs are enqueued first (untimed), then burst workers are started as separate processes
   and the figure is N / (time from starting the workers to the exit of the last of them). Nothing is
   subtracted: interpreter and Django start-up, worker registration and the burst exit are included.
   Bare RQ runs ``python bench/throughput.py --bare-worker rq.worker.SimpleWorker|rq.worker.Worker``:
   what ``rq worker --burst --serializer JSONSerializer`` does, except that the job's module is imported
   before the worker starts, as jobdesk's workers do (``rq worker`` would import it again in every
   forked work horse, and compile it there too under PYTHONDONTWRITEBYTECODE). jobdesk runs
   ``manage.py rqworker <ns>.default --burst --worker-class jobs.worker.SimpleWorker|jobs.worker.Worker``.
   Both log at INFO (their commands' default) to a file, and keep their own defaults otherwise (bare RQ
   keeps a result 500 s; jobdesk uses QUEUE_RESULT_TTL, 0 unless set). Afterwards the bench checks that
   every job ran: bare RQ's finished registry holds N jobs and its queue is empty; jobdesk's ledger holds
   N ``succeeded`` records. Goal: jobdesk >= 75% of bare RQ with the same worker class. A third pair,
   "default vs Simple", runs jobdesk's default worker (``jobs.worker.PersistentWorker``: one reused work
   process) against bare RQ's SimpleWorker (the same bare figure): goal >= 100%. A last pair, "default
   vs yardstick", runs the default worker against bare RQ's SimpleWorker whose job writes two rows, each
   its own durable commit (``two_commits``: an INSERT and an UPDATE on one psycopg connection per
   process), what a ledger's claim and finish cost RQ's own loop: the floor under that goal.
   A second figure, "in-run", divides N by the span from the first job's start to the last job's end
   as the jobs record them (RQ's ``started_at``/``ended_at``; the ledger's ``started_at``/
   ``succeeded_at``): it leaves out process start-up and shutdown.

Then (unless ``--no-costs``) it counts, for a few hundred jobs and outside any timing, the Redis commands
per job (through MONITOR, on the bench's Redis database only) and the SQL statements and transactions per
job (through a Django execute wrapper) for enqueue, batch enqueue and a run with an in-process
SimpleWorker. ``--profile`` prints cProfile's top functions for jobdesk's enqueue and run.

With ``--features`` (opt-in; ``--features-quick`` shortens it), after all that, the costs of features:

4. unique-key enqueue: ``enqueue("bench.noop_unique", {"n": i})`` (``Unique(key=("n",), scope="waiting")``,
   bench/jobtypes.py) in autocommit, against the plain ``bench.noop`` of the same shape: new keys (each a
   new record), then the same keys again (each answered with the record holding it, ``created`` False);
   ms per enqueue and the ratio to plain, best of ``--rounds``.
5. batch completion latency: ``enqueue_batch`` of ``--batch-members`` ``bench.noop`` jobs with the
   callback ``bench.batch_done`` (which records ``time.time()`` in Redis as it starts), run by two burst
   ``jobs.worker.Worker`` processes started as in 3; latency = callback start minus the latest member's
   ``succeeded_at`` in the ledger (same host clock), one batch at a time; p50 and max over ``--batches``.
6. rate-limit accuracy: ``bench.rate_limit_accuracy.measure`` (two workers, ``--rate-limit`` over
   ``--rate-seconds``), and pruning at scale: ``bench.retention_scale.measure`` (``--prune-rows`` records
   seeded into the bench's ledger, a pruning pass in its own process beside an enqueuer thread).

Isolation: the bench uses its own PostgreSQL database (``--database``, default ``jobdesk_bench``: created
if missing and migrated; the ``jobdesk`` and ``test_jobdesk`` databases are refused) and its own Redis
database (``--redis-db``, default 13, flushed between phases), and truncates its ledger between phases.
Worker processes get the same environment.
"""

import argparse
import cProfile
import logging
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # `python bench/throughput.py` puts bench/ first, not the project
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, empty_ledger  # noqa: E402

BARE_QUEUE = "jdbench-bare"
BARE_NOOP = "bench.throughput.noop"
JOB_TYPE = "bench.noop"
FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk"}
WORKER_CLASSES = {  # label: (bare RQ class, jobdesk class)
    "SimpleWorker": ("rq.worker.SimpleWorker", "jobs.worker.SimpleWorker"),
    "Worker (fork)": ("rq.worker.Worker", "jobs.worker.Worker"),
    # jobdesk's default (a reused work process) against bare RQ's SimpleWorker: the goal is >= 1.0.
    "default vs Simple": ("rq.worker.SimpleWorker", "jobs.worker.PersistentWorker"),
}


def noop(n=0):
    """The bare-RQ job (imported by the bare workers, so this module imports nothing heavy at the top)."""
    return None


BARE_TWO_COMMITS = "bench.throughput.two_commits"
TWO_COMMITS_TABLE = "bench_two_commits"
_two_commits_db = None


def two_commits(n=0):
    """The yardstick's bare-RQ job: two single-row writes, each its own durable commit, as a ledger's claim
    and finish are (on one connection per worker process, opened at its first job)."""
    global _two_commits_db
    if _two_commits_db is None:
        import psycopg

        _two_commits_db = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    row = _two_commits_db.execute(f"INSERT INTO {TWO_COMMITS_TABLE} (n) VALUES (%s) RETURNING id", [n]).fetchone()
    _two_commits_db.execute(f"UPDATE {TWO_COMMITS_TABLE} SET done = true WHERE id = %s", [row[0]])


# --- set-up -------------------------------------------------------------------------------------------


# Counts per phase: (full run, --quick run); a flag given on the command line wins over both.
COUNTS = {
    "single": (2000, 300),
    "batch": (20000, 3000),
    "e2e_simple": (2000, 200),
    "e2e_fork": (300, 40),
    "rounds": (3, 1),
    "cost_jobs": (200, 50),
}
# --features counts: (full, --features-quick); a flag given on the command line wins over both.
FEATURE_COUNTS = {
    "unique_n": (1000, 200),
    "batch_members": (50, 50),
    "batches": (10, 3),
    "rate_seconds": (30, 8),
    "prune_rows": (1_000_000, 50_000),
    "prune_baseline": (10.0, 3.0),
}
UNIQUE_JOB_TYPE = "bench.noop_unique"
BATCH_CALLBACK = "bench.batch_done"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="small counts, one round: a smoke run of ~15 s")
    add("--single", type=int, help="jobs for single enqueue (2000; quick 300)")
    add("--batch", type=int, help="jobs for batch enqueue (20000; quick 3000)")
    add("--batch-size", type=int, default=1000, help="jobs per batch (1000)")
    add("--e2e-simple", type=int, help="jobs end to end with SimpleWorker (2000; quick 200)")
    add("--e2e-fork", type=int, help="jobs end to end with the forking Worker (300; quick 40)")
    add("--rounds", type=int, help="rounds of each enqueue measure, best kept (3; quick 1)")
    add("--cost-jobs", type=int, help="jobs per cost count (200; quick 50)")
    add("--no-costs", action="store_true", help="skip counting Redis commands and SQL per job")
    add("--profile", action="store_true", help="print cProfile's top functions for jobdesk")
    add("--database", default="jobdesk_bench", help="PostgreSQL database of the bench (jobdesk_bench)")
    add("--redis-db", type=int, default=13, help="Redis database of the bench (13)")
    add("--bare-worker", metavar="CLASS", help="internal: run one bare RQ burst worker and exit")
    add("--features", action="store_true",
        help="also measure unique-key enqueue, batch completion latency, rate-limit accuracy and pruning")
    add("--features-quick", action="store_true", help="--features with short runs (~1 min)")
    add("--unique-n", type=int, help="enqueues per unique-key measure (1000; features-quick 200)")
    add("--batch-members", type=int, help="no-op members per batch (50)")
    add("--batches", type=int, help="batches for the completion latency (10; features-quick 3)")
    add("--rate-limit", default="20/s", help="declared rate limit of the accuracy measure (20/s)")
    add("--rate-seconds", type=int, help="measured span of the rate-limit accuracy (30; features-quick 8)")
    add("--prune-rows", type=int, help="records seeded for the pruning pass (1,000,000; features-quick 50,000)")
    add("--prune-baseline", type=float, help="seconds of enqueues without pruning (10; features-quick 3)")
    args = parser.parse_args()
    for name, (full, quick) in COUNTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.features = args.features or args.features_quick
    for name, (full, quick) in FEATURE_COUNTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.features_quick else full)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database belongs to the project or its tests")
    return args


def configure_environment(args):
    """Point this process, and the workers it starts, at the bench's own database and Redis db."""
    os.environ.setdefault("QUEUE_NAMESPACE", "jdbench")
    bench_environment(args.database, args.redis_db, JOBS_TASK_MODULES="bench.jobtypes")


def setup_django(args):
    import django
    from django.core.management import call_command

    create_database(args.database)
    django.setup()
    logging.disable(logging.INFO)  # this process only: no per-job log lines from in-process runs
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TWO_COMMITS_TABLE} "
                       "(id bigserial PRIMARY KEY, n integer NOT NULL, done boolean NOT NULL DEFAULT false)")


def redis():
    from jobs.connection import redis_connection

    return redis_connection()


def bare_queue():
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(BARE_QUEUE, connection=redis(), serializer=JSONSerializer)


def jobdesk_queue():
    from jobs.connection import get_queue, queue_name

    return get_queue(queue_name("default"))


def reset():
    """Empty the bench's Redis database and its ledger tables."""
    empty_ledger(TWO_COMMITS_TABLE)


def ledger_statuses():
    from django.db.models import Count

    from jobs.models import JobRecord

    return dict(JobRecord.objects.values_list("status").annotate(n=Count("id")).order_by())


# --- 1 and 2: enqueue ---------------------------------------------------------------------------------


def bare_single(n):
    queue = bare_queue()
    start = time.perf_counter()
    for i in range(n):
        queue.enqueue(BARE_NOOP, i)
    elapsed = time.perf_counter() - start
    assert queue.count == n, f"bare RQ queue holds {queue.count} jobs, expected {n}"
    return n / elapsed


def jobdesk_single(n):
    from jobs.enqueue import enqueue

    start = time.perf_counter()
    for i in range(n):
        enqueue(JOB_TYPE, {"n": i})
    elapsed = time.perf_counter() - start
    check_jobdesk_enqueued(n)
    return n / elapsed


def chunks(n, size):
    for first in range(0, n, size):
        yield range(first, min(n, first + size))


def bare_batch(n, size):
    from rq import Queue

    queue = bare_queue()
    start = time.perf_counter()
    for chunk in chunks(n, size):
        queue.enqueue_many([Queue.prepare_data(BARE_NOOP, args=(i,)) for i in chunk])
    elapsed = time.perf_counter() - start
    assert queue.count == n, f"bare RQ queue holds {queue.count} jobs, expected {n}"
    return n / elapsed


def jobdesk_batch(n, size):
    from jobs.enqueue import enqueue_many

    start = time.perf_counter()
    for chunk in chunks(n, size):
        enqueue_many(JOB_TYPE, [{"n": i} for i in chunk])
    elapsed = time.perf_counter() - start
    check_jobdesk_enqueued(n)
    return n / elapsed


def check_jobdesk_enqueued(n):
    """Every record is ``queued`` and in Redis (a failed dispatch would leave it ``pending``, silently)."""
    statuses, in_redis = ledger_statuses(), jobdesk_queue().count
    if statuses != {"queued": n} or in_redis != n:
        raise SystemExit(f"jobdesk enqueue: ledger {statuses}, RQ queue {in_redis}; expected {n} queued")


def best_of(rounds, measure, *args):
    """Warm up (untimed), then the best of ``rounds`` timed runs, each from an empty database."""
    reset()
    measure(min(50, args[0]), *args[1:])
    figures = []
    for _ in range(rounds):
        reset()
        figures.append(measure(*args))
    reset()
    return max(figures)


# --- 3: end to end ------------------------------------------------------------------------------------


def bare_worker(worker_class):
    """The bare-RQ worker process: ``rq worker --burst`` on the bare queue, JSON serializer, INFO logs."""
    from importlib import import_module

    from redis import Redis
    from rq import Queue
    from rq.serializers import JSONSerializer
    from rq.utils import import_attribute

    import_module(BARE_NOOP.rsplit(".", 1)[0])  # the job's module, imported once, before any fork
    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue(BARE_QUEUE, connection=connection, serializer=JSONSerializer)
    worker = import_attribute(worker_class)([queue], connection=connection, serializer=JSONSerializer)
    worker.work(burst=True, logging_level="INFO")


def worker_command(side, worker_class):
    if side == "bare":
        return [sys.executable, str(Path(__file__).resolve()), "--bare-worker", worker_class]
    from jobs.connection import queue_name

    return [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", queue_name("default"), "--burst",
            "--worker-class", worker_class]


def run_workers(command, count, log_dir, label, timeout):
    """Start ``count`` burst workers; return the seconds from their start to the exit of the last one."""
    procs, logs = [], []
    start = time.perf_counter()
    for i in range(count):
        log = open(Path(log_dir) / f"{label}-{i}.log", "wb")
        logs.append(log)
        procs.append(subprocess.Popen(command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))
    try:
        for proc in procs:
            proc.wait(timeout=max(1.0, timeout - (time.perf_counter() - start)))
        elapsed = time.perf_counter() - start
    finally:
        for proc in procs:
            if proc.poll() is None:  # timed out: end this worker and its work horse (its own group)
                os.killpg(proc.pid, 9)
                proc.wait()
        for log in logs:
            log.close()
    failed = [p.returncode for p in procs if p.returncode != 0]
    if failed:
        raise RuntimeError(f"{label}: worker exit codes {failed}")
    return elapsed


def log_tail(log_dir, label, lines=15):
    out = []
    for path in sorted(Path(log_dir).glob(f"{label}-*.log")):
        text = path.read_text(errors="replace").splitlines()
        out.append(f"--- {path.name} (last {lines} lines)\n" + "\n".join(text[-lines:]))
    return "\n".join(out)


def bare_end_to_end(n, worker_class, workers, log_dir, label, func=BARE_NOOP):
    from rq import Queue
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry
    from rq.serializers import JSONSerializer

    reset()
    queue = bare_queue()
    for chunk in chunks(n, 1000):
        queue.enqueue_many([Queue.prepare_data(func, args=(i,)) for i in chunk])
    command = worker_command("bare", worker_class)
    elapsed = run_workers(command, workers, log_dir, label, timeout=60 + n / 5)
    if func == BARE_TWO_COMMITS:
        from django.db import connection

        with connection.cursor() as cursor:
            written = cursor.execute(f"SELECT count(*) FROM {TWO_COMMITS_TABLE} WHERE done").fetchone()[0]
        if written != n:
            raise RuntimeError(f"{label}: {written} jobs wrote their two rows, expected {n}")
    finished = FinishedJobRegistry(queue=queue)
    done, failed, left = finished.count, FailedJobRegistry(queue=queue).count, queue.count
    if done != n or left:
        raise RuntimeError(f"{label}: {done} finished, {failed} failed, {left} left in the queue; "
                           f"expected {n}\n{log_tail(log_dir, label)}")
    jobs = Job.fetch_many(finished.get_job_ids(), connection=redis(), serializer=JSONSerializer)
    span = (max(j.ended_at for j in jobs) - min(j.started_at for j in jobs)).total_seconds()
    return n / elapsed, n / span


def jobdesk_end_to_end(n, worker_class, workers, log_dir, label):
    from django.db.models import Max, Min

    from jobs.enqueue import enqueue_many
    from jobs.models import JobRecord

    reset()
    for chunk in chunks(n, 1000):
        enqueue_many(JOB_TYPE, [{"n": i} for i in chunk])
    command = worker_command("jobdesk", worker_class)
    elapsed = run_workers(command, workers, log_dir, label, timeout=60 + n / 5)
    statuses = ledger_statuses()
    if statuses != {"succeeded": n}:
        raise RuntimeError(f"{label}: ledger {statuses}, expected {n} succeeded\n" + log_tail(log_dir, label))
    span = JobRecord.objects.aggregate(first=Min("started_at"), last=Max("succeeded_at"))
    return n / elapsed, n / (span["last"] - span["first"]).total_seconds()


# --- costs: Redis commands and SQL per job ------------------------------------------------------------


class RedisCommands:
    """Counts the commands Redis runs on one database, through MONITOR. Slow: never used while timing."""

    MARK = "jdbench-monitor-mark"

    def __init__(self, db):
        self.db = db
        self.counts = Counter()

    def __enter__(self):
        self.monitor = redis().monitor().__enter__()  # MONITOR is on once this returns
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()
        return self

    def _listen(self):
        # A line looks like: 1700000000.123456 [13 127.0.0.1:5000] "HSET" "rq:job:..." ...
        while True:
            line = self.monitor.connection.read_response()
            line = line.decode(errors="replace") if isinstance(line, bytes) else str(line)
            if " [" not in line:
                continue
            _, rest = line.split(" [", 1)
            db, rest = rest.split(" ", 1)
            if int(db) != self.db:
                continue
            name = rest.split("] ", 1)[1].split(" ", 1)[0].strip('"').upper()
            if name == "ECHO" and self.MARK in rest:
                return
            self.counts[name] += 1

    def __exit__(self, *exc):
        redis().echo(self.MARK)  # tells the listener to stop; not counted
        self.thread.join(30)
        self.monitor.__exit__(*exc)

    @property
    def total(self):
        return sum(self.counts.values())


class SqlStatements:
    """Counts SQL statements and transactions on Django's default connection."""

    def __init__(self):
        self.counts = Counter()
        self.transactions = 0

    def __call__(self, execute, sql, params, many, context):
        self.counts[sql.split(None, 1)[0].upper()] += 1
        if not context["connection"].in_atomic_block:
            self.transactions += 1  # a statement in autocommit is a transaction of its own
        return execute(sql, params, many, context)

    def __enter__(self):
        from django.db import connections

        self.connection = connections["default"]
        self.wrapper = self.connection.execute_wrapper(self)
        self.wrapper.__enter__()
        real_commit = self.connection.commit

        def commit():
            self.transactions += 1
            return real_commit()

        self.connection.commit = commit  # atomic() commits through this
        return self

    def __exit__(self, *exc):
        del self.connection.commit
        self.wrapper.__exit__(*exc)

    @property
    def total(self):
        return sum(self.counts.values())


def run_in_process(worker_class, queue):
    """Run one burst worker in this process (for counting; the timed runs use separate processes)."""
    return worker_class([queue], connection=redis(), serializer=queue.serializer).work(
        burst=True, logging_level="WARNING")


def cost_rows(n, redis_db):
    """Rows of (what, bare RQ's Redis commands, jobdesk's Redis commands, jobdesk's SQL) for ``n`` jobs."""
    from rq import Queue
    from rq.worker import SimpleWorker as BareSimpleWorker

    from jobs.enqueue import enqueue, enqueue_many
    from jobs.worker import SimpleWorker

    def count(action):
        with RedisCommands(redis_db) as commands, SqlStatements() as sql:
            action()
        return commands, sql

    def bare_enqueue():
        for i in range(n):
            bare_queue().enqueue(BARE_NOOP, i)

    def bare_enqueue_many():
        bare_queue().enqueue_many([Queue.prepare_data(BARE_NOOP, args=(i,)) for i in range(n)])

    def jobdesk_enqueue():
        for i in range(n):
            enqueue(JOB_TYPE, {"n": i})

    def jobdesk_enqueue_many():
        enqueue_many(JOB_TYPE, [{"n": i} for i in range(n)])

    reset()
    bare_single_cost, _ = count(bare_enqueue)
    bare_run_cost, _ = count(lambda: run_in_process(BareSimpleWorker, bare_queue()))
    reset()
    jd_single_cost, jd_single_sql = count(jobdesk_enqueue)
    jd_run_cost, jd_run_sql = count(lambda: run_in_process(SimpleWorker, jobdesk_queue()))
    if ledger_statuses() != {"succeeded": n}:
        raise SystemExit(f"cost run: ledger {ledger_statuses()}, expected {n} succeeded")
    reset()
    bare_batch_cost, _ = count(bare_enqueue_many)
    jd_batch_cost, jd_batch_sql = count(jobdesk_enqueue_many)
    reset()
    return [
        ("single enqueue", bare_single_cost, jd_single_cost, jd_single_sql),
        (f"batch enqueue ({n})", bare_batch_cost, jd_batch_cost, jd_batch_sql),
        ("run, SimpleWorker (burst)", bare_run_cost, jd_run_cost, jd_run_sql),
    ]


def print_costs(rows, n):
    def per_job(counter):
        return ", ".join(f"{name} {value / n:g}" for name, value in counter.most_common()) or "none"

    print(f"\nCost per job ({n} no-op jobs, in this process; worker start/stop amortized over them)")
    print(f"{'':27} {'Redis cmds/job':>24}   {'SQL/job (jobdesk)':>26}")
    print(f"{'':27} {'bare RQ':>11} {'jobdesk':>12}   {'statements':>12} {'transactions':>13}")
    for what, bare, jd, sql in rows:
        print(f"{what:27} {bare.total / n:11.1f} {jd.total / n:12.1f}   "
              f"{sql.total / n:12.2f} {sql.transactions / n:13.2f}")
    for what, bare, jd, sql in rows:
        print(f"  {what}:")
        print(f"    bare RQ  Redis: {per_job(bare.counts)}")
        print(f"    jobdesk  Redis: {per_job(jd.counts)}")
        print(f"    jobdesk  SQL:   {per_job(sql.counts)}")


def profile_jobdesk(n):
    from jobs.enqueue import enqueue, enqueue_many
    from jobs.worker import SimpleWorker

    def single():
        for i in range(n):
            enqueue(JOB_TYPE, {"n": i})

    def run():
        run_in_process(SimpleWorker, jobdesk_queue())

    def batch():
        enqueue_many(JOB_TYPE, [{"n": i} for i in range(n * 10)])

    reset()
    for title, action in (
        (f"jobdesk single enqueue x{n}", single),
        (f"jobdesk in-process SimpleWorker run x{n}", run),
        (f"jobdesk enqueue_many x{n * 10}", batch),
    ):
        profiler = cProfile.Profile()
        profiler.runcall(action)
        print(f"\n=== cProfile: {title} (top 20 by cumulative time)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    reset()


# --- 4 to 6: features (--features) --------------------------------------------------------------------


def timed_enqueues(job_type, n, expect_created):
    """ms per ``enqueue(job_type, {"n": i})`` for i < n, each in autocommit; every record's ``created``
    must be ``expect_created``."""
    from jobs.enqueue import enqueue

    created = 0
    start = time.perf_counter()
    for i in range(n):
        created += bool(enqueue(job_type, {"n": i}).created)
    elapsed = time.perf_counter() - start
    if created != (n if expect_created else 0):
        raise SystemExit(f"{job_type}: {created} of {n} enqueues created a record, expected "
                         f"{n if expect_created else 0}")
    return elapsed * 1000 / n


def unique_costs(n, rounds):
    """(plain, unique new keys, unique repeated keys): the best ms per enqueue of ``rounds`` rounds."""
    reset()
    timed_enqueues(JOB_TYPE, min(50, n), True)  # warm-up, untimed
    timed_enqueues(UNIQUE_JOB_TYPE, min(50, n), True)
    plain, new, repeated = [], [], []
    for _ in range(rounds):
        reset()
        plain.append(timed_enqueues(JOB_TYPE, n, True))
        reset()
        new.append(timed_enqueues(UNIQUE_JOB_TYPE, n, True))
        repeated.append(timed_enqueues(UNIQUE_JOB_TYPE, n, False))  # the keys are held: all still queued
        statuses = ledger_statuses()
        if statuses != {"queued": n}:
            raise SystemExit(f"unique enqueue: ledger {statuses}, expected {n} queued")
    reset()
    return min(plain), min(new), min(repeated)


def batch_latencies(members, batches, log_dir):
    """Seconds from the latest member's ``succeeded_at`` to the callback's start, one batch at a time."""
    from django.db.models import Max

    from bench.jobtypes import BATCH_DONE_KEY
    from jobs.enqueue import enqueue_batch
    from jobs.models import JobRecord

    command = worker_command("jobdesk", "jobs.worker.Worker")
    latencies = []
    for b in range(batches):
        reset()
        batch = enqueue_batch([(JOB_TYPE, {"n": i}) for i in range(members)], on_complete=(BATCH_CALLBACK, {"n": b}))
        label = f"batch-{b}"
        run_workers(command, 2, log_dir, label, timeout=120)
        statuses = ledger_statuses()
        started = redis().hget(BATCH_DONE_KEY, str(batch.pk))
        if statuses != {"succeeded": members + 1} or started is None:
            raise RuntimeError(f"{label}: ledger {statuses}, expected {members + 1} succeeded; callback start "
                               f"{started!r}\n{log_tail(log_dir, label)}")
        last = JobRecord.objects.filter(batch=batch).aggregate(last=Max("succeeded_at"))["last"]
        latencies.append(float(started) - last.timestamp())
    reset()
    return latencies


def measure_rate_limit(rate, seconds, log_dir):
    """``bench.rate_limit_accuracy.measure`` on this bench's database and Redis db. Its job type is declared
    here by importing the module, and in its workers through JOBS_TASK_MODULES (set for them only now, so
    that the default sections' workers run as they always did)."""
    os.environ["BENCH_RATE_LIMIT"] = rate
    modules = os.environ.get("JOBS_TASK_MODULES", "")
    if "bench.rate_limit_accuracy" not in modules.split(","):
        os.environ["JOBS_TASK_MODULES"] = ",".join(filter(None, [modules, "bench.rate_limit_accuracy"]))
    from bench import rate_limit_accuracy

    reset()
    try:
        return rate_limit_accuracy.measure(rate, seconds, workers=2, log_dir=log_dir)
    finally:
        reset()


def measure_pruning(rows, baseline):
    from bench import retention_scale

    reset()
    try:
        return retention_scale.measure(rows, baseline=baseline, explain=False)
    finally:
        reset()


def run_features(args):
    from bench.common import percentile

    print(f"\nfeatures: unique-key enqueue, {args.unique_n} jobs, best of {max(3, args.rounds)} ...", flush=True)
    plain, new, repeated = unique_costs(args.unique_n, max(3, args.rounds))
    log_dir = tempfile.mkdtemp(prefix="jdbench-features-")
    try:
        print(f"features: batch completion, {args.batches} batches of {args.batch_members} ...", flush=True)
        latencies = batch_latencies(args.batch_members, args.batches, log_dir)
        print(f"features: rate-limit accuracy, {args.rate_limit} over {args.rate_seconds} s, 2 workers ...",
              flush=True)
        rate = measure_rate_limit(args.rate_limit, args.rate_seconds, log_dir)
    except Exception:
        print(f"worker logs kept in {log_dir}", file=sys.stderr)
        raise
    shutil.rmtree(log_dir)
    print(f"features: pruning, {args.prune_rows:,} records seeded ...", flush=True)
    prune = measure_pruning(args.prune_rows, args.prune_baseline)

    print(f"\n{'feature metric':52} {'plain':>10} {'feature':>10} {'ratio':>7}")
    for metric, value in ((f"unique enqueue, new keys, ms/job (n={args.unique_n})", new),
                          (f"unique enqueue, repeated keys, ms/job (n={args.unique_n})", repeated)):
        print(f"{metric:52} {plain:10.3f} {value:10.3f} {value / plain:7.2f}")
    ms = [v * 1000 for v in latencies]
    print(f"{f'batch completion latency, ms ({args.batches} batches)':52} p50 {percentile(ms, .5):.1f}   "
          f"max {max(ms):.1f}   min {min(ms):.1f}")
    print(f"  (batches of {args.batch_members} no-op members, Worker (fork) x2; the latest member's succeeded_at "
          f"to the callback's start; each: {', '.join(f'{v:.1f}' for v in ms)})")

    from bench import rate_limit_accuracy, retention_scale

    print("\nRate-limit accuracy (bench/rate_limit_accuracy.py; goal: ratio within 10% of 1):")
    for line in rate_limit_accuracy.report_lines(rate):
        print("  " + line)
    print("\nPruning (bench/retention_scale.py):", end="")
    retention_scale.print_results(**prune)


# --- report -------------------------------------------------------------------------------------------


def print_table(rows):
    print(f"\n{'metric':42} {'bare RQ':>10} {'jobdesk':>10} {'ratio':>7}   goal")
    for metric, bare, jd, goal, met in rows:
        mark = "" if met is None else ("  ok" if met else "  MISSED")
        goal_text = f"{goal}{mark}" if goal else ""
        print(f"{metric:42} {bare:10,.0f} {jd:10,.0f} {jd / bare:7.2f}   {goal_text}")


def main():
    args = parse_args()
    if args.bare_worker:  # started by run_workers below, with the environment already set
        return bare_worker(args.bare_worker)
    configure_environment(args)
    setup_django(args)
    from django.conf import settings

    print(f"bench: database {args.database}, Redis {os.environ['REDIS_URL']}, "
          f"namespace {settings.QUEUE_NAMESPACE}, result TTL {settings.QUEUE_RESULT_TTL}")
    rows = []

    print(f"single enqueue: {args.single} jobs, best of {args.rounds} ...", flush=True)
    bare = best_of(args.rounds, bare_single, args.single)
    jd = best_of(args.rounds, jobdesk_single, args.single)
    rows.append((f"single enqueue, jobs/s (n={args.single})", bare, jd, ">= 50% of bare", jd >= 0.5 * bare))

    print(f"batch enqueue: {args.batch} jobs, batches of {args.batch_size}, best of {args.rounds} ...",
          flush=True)
    bare = best_of(args.rounds, bare_batch, args.batch, args.batch_size)
    jd = best_of(args.rounds, jobdesk_batch, args.batch, args.batch_size)
    rows.append((f"batch enqueue, jobs/s (n={args.batch})", bare, jd, ">= 5,000 jobs/s", jd >= 5000))

    in_run = []
    bare_runs = {}  # (class, workers, n): bare RQ's figures, measured once
    log_dir = tempfile.mkdtemp(prefix="jdbench-")
    try:
        for label, (bare_class, jd_class) in WORKER_CLASSES.items():
            n = args.e2e_fork if label == "Worker (fork)" else args.e2e_simple
            goal = 1.0 if label.startswith("default") else 0.75
            for workers in (1, 2):
                print(f"end to end: {label} x{workers}, {n} jobs ...", flush=True)
                tag = f"{label.split()[0].lower()}-x{workers}"
                if (bare_class, workers, n) not in bare_runs:
                    bare_runs[bare_class, workers, n] = bare_end_to_end(n, bare_class, workers, log_dir,
                                                                        f"bare-{tag}")
                bare, bare_span = bare_runs[bare_class, workers, n]
                jd, jd_span = jobdesk_end_to_end(n, jd_class, workers, log_dir, f"jobdesk-{tag}")
                metric = f"end to end, {label} x{workers}, jobs/s (n={n})"
                rows.append((metric, bare, jd, f">= {goal:.0%} of bare", jd >= goal * bare))
                in_run.append((metric.replace("end to end", "in-run"), bare_span, jd_span, "", None))
        for workers in (1, 2):  # what a durable ledger costs RQ's own loop: the floor under the 1.0 goal
            print(f"end to end: yardstick x{workers} (bare SimpleWorker, two commits per job), {args.e2e_simple} "
                  "jobs ...", flush=True)
            n = args.e2e_simple
            yard, yard_span = bare_end_to_end(n, "rq.worker.SimpleWorker", workers, log_dir, f"yardstick-x{workers}",
                                              func=BARE_TWO_COMMITS)
            jd, jd_span = jobdesk_end_to_end(n, "jobs.worker.PersistentWorker", workers, log_dir,
                                             f"jobdesk-default-y{workers}")
            metric = f"end to end, default vs yardstick x{workers}, jobs/s (n={n})"
            rows.append((metric, yard, jd, "(bare: SimpleWorker + 2 commits/job)", None))
            in_run.append((metric.replace("end to end", "in-run"), yard_span, jd_span, "", None))
    except Exception:
        print(f"worker logs kept in {log_dir}", file=sys.stderr)
        raise
    shutil.rmtree(log_dir)
    reset()

    print_table(rows)
    print("\nIn-run (first job start to last job end, as the jobs record them; no process start-up or exit):")
    print_table(in_run)

    if not args.no_costs:
        print_costs(cost_rows(args.cost_jobs, args.redis_db), args.cost_jobs)
    if args.profile:
        profile_jobdesk(args.cost_jobs)
    if args.features:
        run_features(args)


if __name__ == "__main__":
    main()
