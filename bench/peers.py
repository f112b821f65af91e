"""jobdesk beside what users compare it with: bare RQ 2.12, Celery 5 and Dramatiq, end to end, in one run,
on the same Redis and PostgreSQL.

Run by hand, it is not a test: ``make bench-peers`` (installs the optional ``bench`` dependencies, Celery
and Dramatiq, then runs this; ~9 minutes on a loaded 2-core machine), or ``BENCH_ARGS=--quick`` for a
smoke run (~3 minutes). ``--help`` lists the
counts to override.

What is measured. Every system runs the same job body, ``bench.peer_record.work(n, sleep_ms)``: sleep
``sleep_ms`` (0: a no-op), then push ``"n started ended"`` (``time.time()``) to one Redis list. Each case:

1. the bench empties its Redis database and its ledger, then enqueues N jobs, untimed, the way each
   system's users do: bare RQ ``Queue.enqueue_many`` (JSON serializer), jobdesk
   ``jobs.enqueue.enqueue_many("bench.peer_work", ...)`` (ledger rows + RQ jobs; the job type is declared
   in bench/peer_jobdesk.py, loaded through ``JOBS_TASK_MODULES``), Celery ``apply_async`` on one
   producer, Dramatiq ``actor.send``;
2. it starts the case's worker processes (all at once, each in its own session, logs to files) and
   starts the clock;
3. the clock stops when the list holds N entries (polled every 2 ms): the N-th job's body has finished.
   jobs/s = N / that time. Process start-up (interpreter, imports, Django for jobdesk, broker set-up,
   Celery's mingle) is included for every system alike; nothing is subtracted;
4. then the workers are stopped, outside the clock: bare RQ and jobdesk's rqworker run ``--burst`` and exit by
   themselves once their queue is empty (the bench waits for them and checks their exit codes); Celery
   and Dramatiq have no burst mode, so the bench sends SIGTERM (their warm shutdown) and waits. Neither
   the burst exit nor the warm shutdown is timed, so no system pays for its way of stopping;
5. checks: every ``n`` in 0..N-1 is in the list exactly once (no job lost, none run twice), the system's
   queue is empty, and for jobdesk the ledger holds N ``succeeded`` records (for bare RQ, N jobs in its
   finished registry).

A second figure, "in-run", is N / (last job's end - first job's start) as the jobs recorded them in the
list: it leaves out start-up and the first job's wait.

The systems, each with its own defaults otherwise:
- bare RQ: ``python bench/peers.py --bare-worker rq.worker.Worker|rq.worker.SimpleWorker``: what
  ``rq worker --burst --serializer JSONSerializer`` does, with the job's module imported before the worker
  starts (as bench/throughput.py does). One process per worker (the forking Worker's work horses are its
  own short-lived children).
- jobdesk: one process, ``manage.py rqworker jdpeers.default --burst``: the default worker class,
  ``jobs.worker.PersistentWorker`` (one long-lived work process per worker). More: ``manage.py
  jobs_workers --domains default`` with ``QUEUE_CONCURRENCY_DEFAULT=K`` (the production command: one pool
  that forks its K workers once Django is imported; stopped by SIGTERM, outside the clock, like Celery
  and Dramatiq), the row the ratios use; beside it, K separate ``rqworker --burst`` commands. One worker
  per process counted.
- Celery 5.7 (Redis broker, no result backend): ``celery -A bench.peer_celery worker --pool=solo`` for
  one process, ``--pool=prefork -c K`` for K processes (the pool's K children run the jobs; the parent
  only dispatches).
- Dramatiq 2.2 (Redis broker): ``dramatiq bench.peer_dramatiq -p P -t T`` (P worker processes of T
  threads each under one parent).

Sections: (1) no-op jobs with 1 and with 2 processes each; (2) 50 ms jobs (``time.sleep(0.05)``, I/O-like)
with 4 processes each (and Dramatiq with 1 process of 4 threads). ``--rounds`` repeats every case, rounds
interleaved, and keeps each case's best figure (the machine may be shared and loaded). Each row also says
the host's 1-minute load average when the case started, and the CPU that the case's own worker processes
used and that the whole host was busy, both in cores, over the timed span (from /proc: the workers'
sessions, their reaped children included, and /proc/stat): the rest of the host's CPU went to Redis,
PostgreSQL, this bench's polling and whatever else runs on the machine.

Ratios printed: jobdesk / bare SimpleWorker (goal >= 1.0), jobdesk / Celery (solo for 1 process, prefork
for 2; a moonshot >= 1.0), jobdesk against every peer, and for 50 ms jobs jobdesk / the best peer (goal
>= 0.95).

Isolation: its own PostgreSQL database (``--database``, default ``jobdesk_peers_bench``: created if
missing and migrated; ``jobdesk`` and ``test_jobdesk`` are refused) and Redis database (``--redis-db``,
default 7), flushed before every case and at the end. The peer modules (bench/peer_*.py) import nothing
from Django.
"""

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # `python bench/peers.py` puts bench/ first, not the project
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database  # noqa: E402

FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk"}
RQ_QUEUE = "peers-rq"
RQ_FUNC = "bench.peer_record.work"
JOB_TYPE = "bench.peer_work"
POLL = 0.002  # seconds between two looks at the list's length

# Counts: (full run, --quick run); a flag given on the command line wins over both.
COUNTS = {"noop_jobs": (1000, 150), "sleep_jobs": (800, 160), "rounds": (1, 1)}


# --- the cases ----------------------------------------------------------------------------------------


@dataclass
class Case:
    label: str
    system: str  # rq | jobdesk | celery | dramatiq
    processes: int  # worker processes that run jobs, as counted in the table
    option: str = ""  # rq: worker class; celery: pool; dramatiq: "-p P -t T"

    def commands(self):
        """The worker processes to start: a list of argv lists."""
        py = sys.executable
        if self.system == "rq":
            return [[py, str(Path(__file__).resolve()), "--bare-worker", self.option]] * self.processes
        if self.system == "jobdesk" and self.option == "pool":
            return [[py, str(BASE_DIR / "manage.py"), "jobs_workers", "--domains", "default"]]
        if self.system == "jobdesk":
            from jobs.connection import queue_name

            return [[py, str(BASE_DIR / "manage.py"), "rqworker", queue_name("default"), "--burst"]] * self.processes
        if self.system == "celery":
            pool = ["--pool=solo"] if self.option == "solo" else ["--pool=prefork", f"--concurrency={self.processes}"]
            return [[py, "-m", "celery", "-A", "bench.peer_celery", "worker", *pool, "-n", "peers@%h"]]
        if self.system == "dramatiq":
            return [[py, "-m", "dramatiq", "bench.peer_dramatiq", *self.option.split()]]
        raise ValueError(self.system)

    @property
    def burst(self):
        return self.system in ("rq", "jobdesk") and self.option != "pool"

    def env(self):
        """The worker processes' environment: the pool's size for ``jobs_workers``."""
        if self.option == "pool":
            return {**os.environ, "QUEUE_CONCURRENCY_DEFAULT": str(self.processes)}
        return None


def noop_cases(processes):
    celery = (Case("Celery --pool=solo", "celery", 1, "solo") if processes == 1 else
              Case(f"Celery --pool=prefork -c {processes}", "celery", processes, "prefork"))
    return [
        Case(f"bare RQ Worker (fork) x{processes}", "rq", processes, "rq.worker.Worker"),
        Case(f"bare RQ SimpleWorker x{processes}", "rq", processes, "rq.worker.SimpleWorker"),
        *jobdesk_cases(processes),
        celery,
        Case(f"Dramatiq -p {processes} -t 1", "dramatiq", processes, f"-p {processes} -t 1"),
    ]


def jobdesk_cases(processes):
    """One worker: ``manage.py rqworker``. More: ``manage.py jobs_workers`` (the production command, one
    pool forking its workers, as Celery's prefork and Dramatiq's -p N are one command) first, the row the
    ratios use, and beside it N separate ``rqworker`` commands."""
    if processes == 1:
        return [Case("jobdesk default x1", "jobdesk", 1)]
    return [Case(f"jobdesk jobs_workers x{processes}", "jobdesk", processes, "pool"),
            Case(f"jobdesk {processes} x rqworker", "jobdesk", processes)]


def sleep_cases():
    return [
        Case("bare RQ Worker (fork) x4", "rq", 4, "rq.worker.Worker"),
        Case("bare RQ SimpleWorker x4", "rq", 4, "rq.worker.SimpleWorker"),
        *jobdesk_cases(4),
        Case("Celery --pool=prefork -c 4", "celery", 4, "prefork"),
        Case("Dramatiq -p 4 -t 1", "dramatiq", 4, "-p 4 -t 1"),
        Case("Dramatiq -p 1 -t 4 (threads)", "dramatiq", 1, "-p 1 -t 4"),
    ]


# --- set-up -------------------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="small counts: a smoke run of ~3 minutes")
    add("--noop-jobs", type=int, help="no-op jobs per case (1000; quick 150)")
    add("--sleep-jobs", type=int, help="50 ms jobs per case (800; quick 160)")
    add("--sleep-ms", type=int, default=50, help="the sleeping jobs' sleep (50)")
    add("--rounds", type=int, help="runs of every case, interleaved, best kept (1)")
    add("--only", default="", help="comma-separated peers to run beside jobdesk (rq,celery,dramatiq): all")
    add("--database", default="jobdesk_peers_bench", help="PostgreSQL database of the bench")
    add("--redis-db", type=int, default=7, help="Redis database of the bench (7)")
    add("--bare-worker", metavar="CLASS", help="internal: run one bare RQ burst worker and exit")
    args = parser.parse_args()
    for name, (full, quick) in COUNTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database belongs to the project or its tests")
    return args


def configure_environment(args):
    """Point this process, and the workers it starts, at the bench's own database and Redis db."""
    os.environ.setdefault("QUEUE_NAMESPACE", "jdpeers")
    bench_environment(args.database, args.redis_db, JOBS_TASK_MODULES="bench.peer_jobdesk")
    os.environ["PEERS_REDIS_URL"] = os.environ["REDIS_URL"]
    path = os.environ.get("PYTHONPATH")  # `celery -A bench...` and `dramatiq bench...` import from here
    os.environ["PYTHONPATH"] = str(BASE_DIR) + (os.pathsep + path if path else "")


def setup_django(args):
    import django
    from django.core.management import call_command

    create_database(args.database)
    django.setup()
    logging.disable(logging.INFO)
    call_command("migrate", verbosity=0, interactive=False)


def redis():
    from bench.peer_record import client

    return client()


def reset():
    """Empty the bench's Redis database and its ledger tables."""
    from django.db import connection

    from audit.models import AuditEvent
    from jobs.models import JobAttempt, JobRecord

    redis().flushdb()
    tables = ", ".join(m._meta.db_table for m in (JobAttempt, JobRecord, AuditEvent))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")


def chunks(n, size=1000):
    for first in range(0, n, size):
        yield range(first, min(n, first + size))


# --- enqueue (untimed) and checks, per system ---------------------------------------------------------


def rq_queue():
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(RQ_QUEUE, connection=redis(), serializer=JSONSerializer)


def enqueue(system, n, sleep_ms):
    if system == "rq":
        from rq import Queue

        queue = rq_queue()
        for chunk in chunks(n):
            queue.enqueue_many([Queue.prepare_data(RQ_FUNC, args=(i, sleep_ms)) for i in chunk])
    elif system == "jobdesk":
        from jobs.enqueue import enqueue_many

        for chunk in chunks(n):
            enqueue_many(JOB_TYPE, [{"n": i, "sleep_ms": sleep_ms} for i in chunk])
    elif system == "celery":
        from bench.peer_celery import app, celery_work

        with app.producer_or_acquire() as producer:
            for i in range(n):
                celery_work.apply_async((i, sleep_ms), producer=producer)
    elif system == "dramatiq":
        from bench.peer_dramatiq import dramatiq_work

        for i in range(n):
            dramatiq_work.send(i, sleep_ms)
    waiting = queue_length(system)
    if waiting != n:
        raise RuntimeError(f"{system}: {waiting} jobs waiting after enqueueing {n}")


def queue_length(system):
    """Jobs waiting in the system's queue (for jobdesk, also checked against the ledger)."""
    if system == "rq":
        return rq_queue().count
    if system == "jobdesk":
        from jobs.connection import get_queue, queue_name

        return get_queue(queue_name("default")).count
    if system == "celery":
        return redis().llen("celery")
    if system == "dramatiq":
        return redis().llen("dramatiq:peers")
    raise ValueError(system)


def check_after(case, n):
    """Every job ran exactly once (the list) and the system agrees (its queue and its own bookkeeping)."""
    from bench.peer_record import DONE_KEY

    entries = [e.decode().split() for e in redis().lrange(DONE_KEY, 0, -1)]
    counts = Counter(int(e[0]) for e in entries)
    twice = sorted(k for k, c in counts.items() if c > 1)
    missing = sorted(set(range(n)) - set(counts))
    problems = []
    if twice or missing or len(counts) != n:
        problems.append(f"{len(entries)} runs recorded for {n} jobs; missing {missing[:10]}, twice {twice[:10]}")
    left = queue_length(case.system)
    if left:
        problems.append(f"{left} jobs left in the queue")
    if case.system == "jobdesk":
        from django.db.models import Count

        from jobs.models import JobRecord

        statuses = dict(JobRecord.objects.values_list("status").annotate(c=Count("id")).order_by())
        if statuses != {"succeeded": n}:
            problems.append(f"ledger {statuses}, expected {n} succeeded")
    if case.system == "rq":
        from rq.registry import FinishedJobRegistry

        finished = FinishedJobRegistry(queue=rq_queue()).count
        if finished != n:
            problems.append(f"{finished} jobs in RQ's finished registry, expected {n}")
    starts = [float(e[1]) for e in entries]
    ends = [float(e[2]) for e in entries]
    return problems, n / (max(ends) - min(starts))


# --- running one case ---------------------------------------------------------------------------------


def host_cpu():
    """(busy, total) jiffies of the whole host, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def sessions_cpu(sessions):
    """CPU seconds used so far by every live process of these sessions (each worker is started in a
    session of its own, which its children keep), their reaped children included (a fork's work horse)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in sessions:  # fields[0] is the state; session is field 6 of stat(5)
            ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def stop(procs, timeout):
    """SIGTERM each worker (a warm shutdown for Celery and Dramatiq), then SIGKILL its group if it lingers."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # also anything of its group left behind (pool children)
        except ProcessLookupError:
            pass
        proc.wait()


def run_case(case, n, sleep_ms, log_dir, label):
    from bench.peer_record import DONE_KEY

    reset()
    enqueue(case.system, n, sleep_ms)
    r = redis()
    load = os.getloadavg()[0]
    busy0, ticks = host_cpu(), os.sysconf("SC_CLK_TCK")
    procs, logs = [], []
    timeout = 120 + n * (sleep_ms / 1000 + 0.05)
    start = time.perf_counter()
    try:
        for i, command in enumerate(case.commands()):
            log = open(Path(log_dir) / f"{label}-{i}.log", "wb")
            logs.append(log)
            procs.append(subprocess.Popen(command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, env=case.env()))
        while r.llen(DONE_KEY) < n:
            if time.perf_counter() - start > timeout:
                raise RuntimeError(f"{label}: timed out, {r.llen(DONE_KEY)} of {n} jobs done")
            if all(p.poll() is not None for p in procs):
                raise RuntimeError(f"{label}: workers exited with {r.llen(DONE_KEY)} of {n} jobs done")
            time.sleep(POLL)
        elapsed = time.perf_counter() - start
        case_cpu, busy1 = sessions_cpu({p.pid for p in procs}), host_cpu()
        if case.burst:  # they exit by themselves once the queue is empty
            for proc in procs:
                proc.wait(timeout=60)
            failed = [p.returncode for p in procs if p.returncode != 0]
            if failed:
                raise RuntimeError(f"{label}: worker exit codes {failed}")
    except Exception as error:
        stop(procs, 5)
        raise RuntimeError(f"{error}\n{log_tail(log_dir, label)}") from None
    finally:
        stop(procs, 30)
        for log in logs:
            log.close()
    case_cores = case_cpu / elapsed
    host_cores = (busy1[0] - busy0[0]) / ticks / elapsed
    problems, in_run = check_after(case, n)
    if problems:
        raise RuntimeError(f"{label}: " + "; ".join(problems) + "\n" + log_tail(log_dir, label))
    return {"e2e": n / elapsed, "in_run": in_run, "load": load, "case_cores": case_cores,
            "host_cores": host_cores}


def log_tail(log_dir, label, lines=15):
    out = []
    for path in sorted(Path(log_dir).glob(f"{label}-*.log")):
        text = path.read_text(errors="replace").splitlines()
        out.append(f"--- {path.name} (last {lines} lines)\n" + "\n".join(text[-lines:]))
    return "\n".join(out)


def run_section(cases, n, sleep_ms, rounds, log_dir, tag):
    """Every case ``rounds`` times, rounds interleaved; each case's best end-to-end and in-run figures."""
    best = {}
    for r in range(rounds):
        for index, case in enumerate(cases):
            label = f"{tag}-{index}-r{r}"
            print(f"  {case.label} (round {r + 1}/{rounds})...", end=" ", flush=True)
            result = run_case(case, n, sleep_ms, log_dir, label)
            print(f"{result['e2e']:.0f} jobs/s, in-run {result['in_run']:.0f}", flush=True)
            kept = best.get(case.label)
            if kept is None or result["e2e"] > kept["e2e"]:  # the row shows the round of the best jobs/s...
                best[case.label] = dict(result, in_run=max(result["in_run"], kept["in_run"] if kept else 0))
            else:  # ...with the best in-run figure of any round
                kept["in_run"] = max(kept["in_run"], result["in_run"])
    return best


# --- printing -----------------------------------------------------------------------------------------


def print_table(title, cases, results, n):
    print(f"\n{title}")
    print(f"{'':34} {'procs':>5} {'jobs/s':>8} {'in-run':>8} {'load1':>6} {'cores: case':>12} {'host':>5}")
    for case in cases:
        r = results[case.label]
        print(f"{case.label:34} {case.processes:5d} {r['e2e']:8.0f} {r['in_run']:8.0f} {r['load']:6.2f} "
              f"{r['case_cores']:12.2f} {r['host_cores']:5.2f}")
    print(f"  ({n} jobs per case; jobs/s: N / (workers started -> N-th job done), start-up included; "
          "in-run: N / (first job start -> last job end))")


def ratio_line(what, results, mine, theirs, goal=None):
    if mine not in results or theirs not in results:  # left out by --only
        return
    a, b = results[mine], results[theirs]
    e2e, in_run = a["e2e"] / b["e2e"], a["in_run"] / b["in_run"]
    goal_text = ""
    if goal is not None:
        goal_text = f"   goal >= {goal:.2f}: {'met' if e2e >= goal else 'NOT met'}"
    print(f"  {what:58} {e2e:5.2f}x  (in-run {in_run:5.2f}x){goal_text}")


def print_noop_ratios(cases, results, processes):
    mine = next(c.label for c in cases if c.system == "jobdesk")
    simple = next((c.label for c in cases if c.option == "rq.worker.SimpleWorker"), "bare SimpleWorker")
    celery = next((c.label for c in cases if c.system == "celery"), "Celery")
    print(f"  ratios, {processes} process{'es' if processes > 1 else ''}:")
    ratio_line("jobdesk default / bare SimpleWorker", results, mine, simple, 1.0)
    ratio_line(f"jobdesk default / {celery} (moonshot)", results, mine, celery, 1.0)
    for case in cases:
        if case.label not in (mine, simple, celery):
            ratio_line(f"jobdesk default / {case.label}", results, mine, case.label)


def print_sleep_ratios(cases, results):
    mine = next(c.label for c in cases if c.system == "jobdesk")
    peers = [c.label for c in cases if c.system != "jobdesk"]
    if not peers:
        return
    best = max(peers, key=lambda label: results[label]["e2e"])
    print("  ratios:")
    ratio_line(f"jobdesk x4 / best peer ({best})", results, mine, best, 0.95)
    for label in peers:
        if label != best:
            ratio_line(f"jobdesk x4 / {label}", results, mine, label)
    for case in cases:
        if case.system == "jobdesk" and case.label != mine:
            ratio_line(f"jobdesk x4 / {case.label}", results, mine, case.label)


# --- the bare-RQ worker process -----------------------------------------------------------------------


def bare_worker(worker_class):
    """``rq worker --burst`` on the bare queue, JSON serializer, INFO logs, the job's module imported first."""
    from importlib import import_module

    from redis import Redis
    from rq import Queue
    from rq.serializers import JSONSerializer
    from rq.utils import import_attribute

    import_module(RQ_FUNC.rsplit(".", 1)[0])
    connection = Redis.from_url(os.environ["REDIS_URL"])
    queue = Queue(RQ_QUEUE, connection=connection, serializer=JSONSerializer)
    worker = import_attribute(worker_class)([queue], connection=connection, serializer=JSONSerializer)
    worker.work(burst=True, logging_level="INFO")


def main():
    args = parse_args()
    if args.bare_worker:
        bare_worker(args.bare_worker)
        return
    configure_environment(args)
    try:
        import celery  # noqa: F401
        import dramatiq  # noqa: F401
    except ImportError as error:
        sys.exit(f"{error}: install the optional bench dependencies (pip install -e '.[bench]'; "
                 "`make bench-peers` does)")
    setup_django(args)
    import celery as celery_pkg
    import dramatiq as dramatiq_pkg
    import rq

    only = set(filter(None, args.only.split(",")))

    def keep(cases):
        return [c for c in cases if not only or c.system in only or c.system == "jobdesk"]

    print(f"jobdesk vs bare RQ {rq.__version__}, Celery {celery_pkg.__version__}, Dramatiq "
          f"{dramatiq_pkg.__version__}; {os.cpu_count()} CPUs; load average at start "
          + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    started = time.monotonic()
    log_dir = tempfile.mkdtemp(prefix="jobdesk-peers-")
    try:
        sections = []
        for processes in (1, 2):
            cases = keep(noop_cases(processes))
            print(f"no-op jobs, {processes} process(es), {args.noop_jobs} jobs per case:")
            sections.append(("noop", processes, cases,
                             run_section(cases, args.noop_jobs, 0, args.rounds, log_dir, f"noop{processes}")))
        cases = keep(sleep_cases())
        print(f"{args.sleep_ms} ms jobs, 4 processes, {args.sleep_jobs} jobs per case:")
        sections.append(("sleep", 4, cases,
                         run_section(cases, args.sleep_jobs, args.sleep_ms, args.rounds, log_dir, "sleep")))
    finally:
        reset()
    for kind, processes, cases, results in sections:
        if kind == "noop":
            print_table(f"End to end, no-op jobs, {processes} worker process(es) each", cases, results,
                        args.noop_jobs)
            print_noop_ratios(cases, results, processes)
        else:
            print_table(f"End to end, {args.sleep_ms} ms jobs (time.sleep), 4 worker processes each", cases,
                        results, args.sleep_jobs)
            print_sleep_ratios(cases, results)
    print(f"\nload average at the end " + " ".join(f"{v:.2f}" for v in os.getloadavg())
          + f"; {time.monotonic() - started:.0f} s; worker logs in {log_dir}")
    print("(load1: the host's 1-minute load average as the case started; cores: CPU used over the timed "
          "span by the case's own worker processes, and by the whole host, in cores out of "
          f"{os.cpu_count()}; the difference is Redis, PostgreSQL, this bench and other work on the host)")


if __name__ == "__main__":
    main()
