"""Chaos bench: do jobs survive hosts crashing, Redis losing its data and PostgreSQL restarting?

Run by hand, it is not a test (a small version is: tests/test_crashes_lose_no_job.py): ``make bench-chaos``
(the three scenarios, 2,000 jobs each: a few minutes), ``BENCH_ARGS=--large`` for 10,000 jobs,
``BENCH_ARGS=--small`` for a short run (a few hundred jobs, three crashes, one Redis restart).
``--help`` lists the knobs; ``--json`` prints the figures as JSON. The exit status is 1 when a goal is
missed (a job lost or stuck, or an extra execution that no lost attempt explains), 2 on a set-up error.

The set-up is production's, as README documents it, with default settings:

- a private ``redis-server`` (a free port, ``--save "" --appendonly no``, a temporary directory): the
  machine's shared Redis is never touched. Scenario 3 also runs its own PostgreSQL cluster (initdb,
  trust auth, a free port, a temporary directory); scenarios 1 and 2 use the PostgreSQL server of
  ``DATABASE_URL`` (default 127.0.0.1:5432) with a database of their own (``--database``, default
  ``jobdesk_chaos``, dropped and re-created, then migrated). Settings are the defaults: inherited
  ``QUEUE_*`` and ``JOBS_*`` variables are dropped (``--set NAME=VALUE`` overrides one on purpose).
- four "hosts": each is one worker command in a process group of its own, ``--worker-command
  jobs_workers`` (the default: ``manage.py jobs_workers --domains default``, QUEUE_CONCURRENCY_DEFAULT
  rqworker processes on the default domain's queues, where the bench's jobs go, restarted when they
  die; ``--all-domains`` runs every domain's workers on each host, as production would, at five more
  Django start-ups per host) or ``rqworker`` (``manage.py rqworker <every queue, high first>
  --with-scheduler``, nothing restarts it);
- one ``manage.py rqscheduler --queue <ns>.default``, which runs the relay and the reconciler every
  ``JOBS_SYSTEM_INTERVAL`` seconds;
- the job type ``bench.chaos_step`` (bench/jobtypes.py): sleeps ``--job-ms`` ms, then inserts a row (record
  id, attempt, pid) into ``bench_chaos_execution``, committed at once: every execution that got past
  its work leaves a row, even when the host dies before the ledger hears of the outcome.

All jobs are enqueued at once (``enqueue_many``) once the workers are up. Then a host crashes every
``--crash-interval`` seconds (3): a host chosen at random (``--seed``; ``--victim oldest`` for the
longest-running) has its whole process tree SIGKILLed (supervisor, workers and work horses, which RQ
puts in groups of their own; see NOTES.md pitfall 5) and a replacement host is started at once.
Start-up counts: on 2 busy cores a host needs seconds to import Django before it takes a job. Crashes stop once ``--crash-until`` (95%) of the records are terminal (or after
``--max-crashes``, or when nothing has progressed for ``--settle`` seconds: then the run is reported as
stalled). Scenarios:

1. crashes alone;
2. crashes, and Redis killed and started again empty when 40% of the records are terminal;
3. crashes, and PostgreSQL restarted (``pg_ctl stop -m fast``, every connection cut) at 40%.

Then the bench waits, up to ``--settle`` seconds (120) after the last crash, for every record to be
terminal, and reads the ledger and the execution rows. Figures per scenario:

- enqueued, succeeded, dead;
- lost: enqueued jobs that are neither succeeded nor dead at the end (a record that says succeeded
  without any execution row would count too: the work never ran);
- stuck: records not terminal at the end (their ledger and RQ state are printed);
- extra executions (execution rows beyond one per record) and how many of them are explained by a
  lost attempt the ledger recorded for that record (a ``JobAttempt`` with outcome ``lost``: at most one
  extra execution per lost attempt); unexplained = extra - explained;
- settle: seconds from the last crash until every record is terminal.

Goal: 0 lost, 0 stuck, every extra execution explained, settled within 30 s of the last crash (moonshot
15 s). Also reported: worker or scheduler processes that exited on their own (not crashed by the bench),
with the end of their log; the logs are kept (path printed) when a goal is missed, or with ``--keep-logs``.

Everything the bench starts (hosts, scheduler, Redis, PostgreSQL, temporary directories) is stopped and
removed at the end, also on Ctrl-C, SIGTERM or an error. Each scenario runs in a child process of its
own (``--run-scenario``, internal), so that each has its own settings and services.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # `python bench/chaos.py` puts bench/ first, not the project
    sys.path.insert(0, str(BASE_DIR))

from bench.common import (  # noqa: E402
    PrivatePostgres, PrivateRedis, bench_environment, kill_process_tree, wait_until,
)

JOB_TYPE = "bench.chaos_step"
SCENARIOS = {
    1: ("crashes", None),
    2: ("crashes + Redis restart", "redis"),
    3: ("crashes + PostgreSQL restart", "postgres"),
}
WORKER_COMMANDS = ("rqworker", "jobs_workers")
DEFAULT_WORKER_COMMAND = "jobs_workers"  # the supervising command (README); rqworker alone for comparison
FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk", "postgres", "template0", "template1"}
GOAL_SETTLE, MOONSHOT_SETTLE = 30.0, 15.0
TERMINAL = ("succeeded", "dead", "canceled")
STUCK_SHOWN = 25


def log(message):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--small", action="store_true",
                      help="300 jobs, 3 crashes, scenario 2 only (one Redis restart), settle limit 60 s: the test's run")
    size.add_argument("--large", action="store_true", help="10,000 jobs")
    add("--scenario", type=int, action="append", choices=sorted(SCENARIOS),
        help="run this scenario (repeatable; default 1, 2 and 3; with --small, 2)")
    add("--jobs", type=int, help="jobs per scenario (2000; --large 10000; --small 300)")
    add("--job-ms", type=int, default=50, help="milliseconds each job works (50)")
    add("--hosts", type=int, default=4, help="hosts, each one worker command (4)")
    add("--worker-command", choices=WORKER_COMMANDS, default=DEFAULT_WORKER_COMMAND,
        help=f"what each host runs ({DEFAULT_WORKER_COMMAND})")
    add("--crash-interval", type=float, default=3.0, help="seconds between host crashes (3)")
    add("--crash-until", type=float, default=0.95,
        help="stop crashing once this fraction of the records is terminal (0.95)")
    add("--max-crashes", type=int, help="stop crashing after this many (no limit; --small 3)")
    add("--disrupt-at", type=float, default=0.4,
        help="restart Redis or PostgreSQL once this fraction of the records is terminal (0.4)")
    add("--outage", type=float, default=1.0, help="seconds Redis or PostgreSQL stays down when restarted (1)")
    add("--settle", type=float, help="seconds after the last crash to wait for every record to be terminal "
                                     "(120; --small 60)")
    add("--database", default="jobdesk_chaos", help="the bench's PostgreSQL database, re-created (jobdesk_chaos)")
    add("--set", action="append", default=[], metavar="NAME=VALUE",
        help="a setting for every process, on purpose (the bench otherwise runs the defaults)")
    add("--strict-settle", action="store_true", help="exit non-zero also when settling took over 30 s")
    add("--keep-logs", metavar="DIR", help="keep the worker and scheduler logs in DIR")
    add("--json", action="store_true", help="print the figures as JSON (progress goes to stderr)")
    add("--victim", choices=("random", "oldest"), default="random",
        help="which host crashes: one at random (seeded), or the longest-running (random)")
    add("--all-domains", action="store_true",
        help="jobs_workers: every domain's workers on each host, not only the default domain's")
    add("--seed", type=int, default=1, help="seed of the crash victims (1)")
    add("--run-scenario", type=int, help=argparse.SUPPRESS)
    add("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs is None:
        args.jobs = 300 if args.small else 10_000 if args.large else 2000
    if args.settle is None:
        args.settle = 60.0 if args.small else 120.0
    if args.max_crashes is None and args.small:
        args.max_crashes = 3
    if not args.scenario:
        args.scenario = [2] if args.small else sorted(SCENARIOS)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database is not the bench's")
    for item in args.set:
        if "=" not in item:
            parser.error(f"--set {item}: expected NAME=VALUE")
    if args.jobs < 1 or args.hosts < 1:
        parser.error("--jobs and --hosts must be at least 1")
    return args


# --- the parent: one child process per scenario, then the report ---------------------------------------


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (`cmd &`)
    if args.run_scenario:
        return scenario_main(args)
    results = []
    for number in args.scenario:
        result = run_child(argv, number)
        results.append(result)
        if result.get("interrupted"):
            break
    report = {"goal": goal_text(), "worker_command": args.worker_command, "jobs": args.jobs,
              "job_ms": args.job_ms, "hosts": args.hosts, "crash_interval": args.crash_interval,
              "scenarios": results}
    report["code"] = code_version()
    report["goal_met"] = all(r.get("goal_met") for r in results) and len(results) == len(args.scenario)
    report["settle_goal_met"] = all(r.get("settle_goal_met") for r in results)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report)
    if any(r.get("interrupted") for r in results):
        return 130
    if any(r.get("error") for r in results) and not any(r.get("enqueued") for r in results):
        return 2
    if not report["goal_met"] or (args.strict_settle and not report["settle_goal_met"]):
        return 1
    return 0


def code_version():
    """The commit measured, and the engine files changed on top of it (figures are of the working tree)."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=BASE_DIR, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--short", "--", "jobs", "project").split("\n") if git(
                "status", "--short", "--", "jobs", "project") else []}


def run_child(argv, number):
    """Run one scenario in a child process; it writes its figures to a file (stdout stays free)."""
    with tempfile.NamedTemporaryFile(prefix="jobdesk-chaos-result-", suffix=".json", delete=False) as f:
        result_file = f.name
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--run-scenario", str(number),
               "--result-file", result_file]
    child = subprocess.Popen(command, cwd=BASE_DIR)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    interrupted = False
    try:
        try:
            child.wait()
        except KeyboardInterrupt:
            interrupted = True
            log("interrupted: waiting for the scenario to stop what it started")
            try:
                child.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                child.wait(90)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        try:
            with open(result_file) as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = {"scenario": number, "name": SCENARIOS[number][0],
                      "error": f"the scenario process ended with status {child.returncode} and no figures"}
    finally:
        signal.signal(signal.SIGTERM, previous)
        try:
            os.unlink(result_file)
        except OSError:
            pass
    if interrupted:
        result["interrupted"] = True
        result["goal_met"] = False
    return result


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def goal_text():
    return (f"0 lost, 0 stuck, every extra execution explained, settled within {GOAL_SETTLE:.0f} s of the "
            f"last crash (moonshot {MOONSHOT_SETTLE:.0f} s)")


def print_report(report):
    print()
    print(f"jobdesk chaos bench: {report['jobs']:,} jobs of {report['job_ms']} ms, {report['hosts']} hosts "
          f"({report['worker_command']}), a host crash every {report['crash_interval']:g} s")
    code = report.get("code") or {}
    changed = ", ".join(line.split()[-1] for line in code.get("uncommitted") or [])
    print(f"code: {code.get('commit')}" + (f" with uncommitted changes to {changed}" if changed else ""))
    header = (f"{'scenario':32} {'enqueued':>8} {'succeeded':>9} {'dead':>5} {'lost':>5} {'stuck':>5} "
              f"{'extra':>6} {'explained':>9} {'settle':>9}")
    print(header)
    print("-" * len(header))
    for r in report["scenarios"]:
        label = f"{r['scenario']}. {r['name']}"
        if "succeeded" not in r:
            print(f"{label:32} no figures: {r.get('error')}")
            continue
        settle = f"{r['settle_seconds']:.1f} s" if r.get("settle_seconds") is not None else "never"
        print(f"{label:32} {r['enqueued']:>8,} {r['succeeded']:>9,} {r['dead']:>5} {r['lost']:>5} {r['stuck']:>5} "
              f"{r['extra_executions']:>6} {r['explained']:>9} {settle:>9}")
    print()
    for r in report["scenarios"]:
        if "succeeded" not in r:
            if r.get("logs"):
                print(f"{r['scenario']}. {r['name']}: logs: {r['logs']}")
            continue
        restart = (f"{r['disruption']} restarted at {r['disruption_at']:.1f} s (took {r['disruption_seconds']:.1f} s); "
                   if r.get("disruption_at") is not None else "")
        done = f"every record terminal at {r['done_at']:.1f} s" if r.get("done_at") is not None else "never all terminal"
        crashes = (f"{r['crashes']} crashes, the last at {r['last_crash_at']:.1f} s" if r["crashes"]
                   else f"no crash (crashing over at {r['last_crash_at']:.1f} s)")
        print(f"{r['scenario']}. {r['name']}: {crashes}; {restart}{done} (times from the end of the enqueue; "
              f"start-up {r.get('startup_seconds')} s)")
        print(f"   attempts recorded lost: {r['lost_attempts']}, failed: {r['failed_attempts']}; executions: "
              f"{r['executions']:,} ({r['extra_executions']} extra, {r['explained']} explained by a lost attempt, "
              f"{r['unexplained']} unexplained, {r['same_attempt_repeats']} repeats of one attempt); "
              f"statuses: {r['statuses']}")
        if r.get("stalled"):
            print("   the work stalled: no record became terminal for the settle limit while hosts kept crashing")
        if r.get("succeeded_without_execution"):
            print(f"   succeeded in the ledger without any execution row: {r['succeeded_without_execution']}")
        for proc in r.get("exited_on_their_own", []):
            print(f"   {proc['what']} exited on its own at {proc['at']:.1f} s with status {proc['status']}; "
                  f"its log ends:")
            for line in proc["log_tail"]:
                print(f"      {line}")
        if r.get("workers_quit_on_error") or r.get("supervisor_restarts"):
            print(f"   worker processes that quit on an error: {r.get('workers_quit_on_error', 0)}; restarted by "
                  f"jobs_workers: {r.get('supervisor_restarts', 0)} (not counting the bench's crashes)")
            for line in [*r.get("workers_quit_samples", []), *r.get("supervisor_restart_samples", [])]:
                print(f"      {line}")
        if r.get("stuck_by_state"):
            print(f"   stuck records by ledger status @ where RQ holds them: {r['stuck_by_state']}")
        if r.get("stuck_records"):
            print(f"   stuck records, longest in their status first (first 10; --json has {len(r['stuck_records'])}):")
            for s in r["stuck_records"][:10]:
                print(f"      {json.dumps(s, default=str)}")
        if r.get("clean_registries_locks"):
            print(f"   RQ clean_registries locks left: {r['clean_registries_locks']}")
        if r.get("logs"):
            print(f"   logs: {r['logs']}")
        if r.get("error"):
            print(f"   error: {r['error']}")
    print()
    print(f"goal: {report['goal']}")
    for r in report["scenarios"]:
        if "succeeded" not in r:
            print(f"   {r['scenario']}. {r['name']}: no figures ({r.get('error')})")
            continue
        settle = r.get("settle_seconds")
        verdict = "met" if r["goal_met"] else "MISSED"
        speed = ("never settled" if settle is None else
                 f"settled in {settle:.1f} s: " + ("moonshot met" if settle <= MOONSHOT_SETTLE else
                                                    "within the goal" if settle <= GOAL_SETTLE else "too slow"))
        print(f"   {r['scenario']}. {r['name']}: {verdict} (lost {r['lost']}, stuck {r['stuck']}, "
              f"unexplained {r['unexplained']}); {speed}")


# --- one scenario, in its own process ------------------------------------------------------------------


class Host:
    """One "machine": a command in a process group of its own, with its log file."""

    def __init__(self, number, command, log_path, started_at):
        self.number = number
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(command, cwd=BASE_DIR, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_at = started_at
        self.crashed = False
        self.exit_seen = False

    def crash(self):
        kill_process_tree(self.proc.pid)
        self.crashed = True
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            kill_process_tree(self.proc.pid)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if not self.log.closed:
            self.log.close()


def tail(path, lines=6):
    """The end of a log: its last error line, then its last lines (traceback frames and carets left out)."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    text = [line for line in text if line.strip() and not line.strip().startswith(("^", "~", "File \"", "Traceback"))
            and not line.startswith(("    ", "During handling"))]
    text = [line for i, line in enumerate(text) if line not in text[i + 1:i + 4]]  # chained repeats once
    errors = [line for line in text if " ERROR " in line or " CRITICAL " in line]
    last = text[-lines:]
    return ([errors[-1]] if errors and errors[-1] not in last else []) + last


def scenario_environment(args, redis_url, database_url):
    """Production-like settings with the defaults: inherited QUEUE_* and JOBS_* variables are dropped
    (``--set`` puts one back on purpose); the private Redis and the scenario's database."""
    for name in list(os.environ):
        if name.startswith(("QUEUE_", "JOBS_")) or name in ("REDIS_URL", "DATABASE_URL"):
            del os.environ[name]
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    bench_environment(args.database, 0, JOBS_TASK_MODULES="bench.jobtypes")
    for item in args.set:
        name, value = item.split("=", 1)
        os.environ[name] = value


def recreate_database(name):
    import psycopg
    from psycopg import sql

    from urllib.parse import urlsplit, urlunsplit

    url = urlsplit(os.environ["DATABASE_URL"])
    with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class Ledger:
    """Reads of the ledger over a raw connection that reconnects (PostgreSQL may be restarting)."""

    def __init__(self, records_table, attempts_table, executions_table):
        self.records, self.attempts, self.executions = records_table, attempts_table, executions_table
        self.conn = None

    def _connection(self):
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, connect_timeout=3)
        return self.conn

    def query(self, sql, params=()):
        """Rows, or None while the database does not answer."""
        import psycopg

        try:
            return self._connection().execute(sql, params).fetchall()
        except psycopg.Error:
            if self.conn is not None:
                try:
                    self.conn.close()
                except Exception:
                    pass
            self.conn = None
            return None

    def counts(self):
        rows = self.query(f"SELECT status, count(*) FROM {self.records} WHERE job_type = %s GROUP BY status",
                          [JOB_TYPE])
        return None if rows is None else dict(rows)

    def close(self):
        if self.conn is not None:
            self.conn.close()


def scenario_main(args):
    number = args.run_scenario
    name, disruption = SCENARIOS[number]
    result = {"scenario": number, "name": name, "disruption": disruption}
    signal.signal(signal.SIGTERM, _raise_interrupt)
    workdir = Path(tempfile.mkdtemp(prefix=f"jobdesk-chaos-{number}-"))
    os.chmod(workdir, 0o755)  # the private PostgreSQL (run as postgres) lives below it
    log_dir = Path(args.keep_logs) / f"scenario-{number}" if args.keep_logs else workdir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    services = {"hosts": [], "scheduler": None, "redis": None, "postgres": None}
    keep_logs = bool(args.keep_logs)
    try:
        run_scenario(args, number, disruption, workdir, log_dir, services, result)
    except KeyboardInterrupt:
        result["interrupted"] = True
        result["error"] = "interrupted"
        keep_logs = True
    except Exception as exc:  # figures so far, and the reason
        import traceback

        result["error"] = f"{type(exc).__name__}: {exc}"
        log("".join(traceback.format_exception(exc)))
        keep_logs = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # stop everything even if Ctrl-C comes again
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_everything(services)
        if not result.get("goal_met", False):
            keep_logs = True
        if keep_logs and not args.keep_logs:
            kept = Path(tempfile.gettempdir()) / f"jobdesk-chaos-logs-{number}-{os.getpid()}"
            shutil.copytree(log_dir, kept, dirs_exist_ok=True)
            result["logs"] = str(kept)
        elif args.keep_logs:
            result["logs"] = str(log_dir)
        shutil.rmtree(workdir, ignore_errors=True)
        if args.result_file:
            with open(args.result_file, "w") as f:
                json.dump(result, f, default=str)
    return 0


def stop_everything(services):
    for host in services["hosts"]:
        try:
            host.stop()
        except Exception as exc:
            log(f"could not stop host {host.number}: {exc}")
    scheduler = services["scheduler"]
    if scheduler is not None:
        try:
            scheduler.stop()
        except Exception as exc:
            log(f"could not stop the scheduler: {exc}")
    if services["redis"] is not None:
        services["redis"].stop(kill=True)
    if services["postgres"] is not None:
        try:
            services["postgres"].stop("immediate")
        except Exception as exc:
            log(f"could not stop the private PostgreSQL: {exc}")


def run_scenario(args, number, disruption, workdir, log_dir, services, result):
    redis_server = PrivateRedis(workdir)
    redis_server.start()
    services["redis"] = redis_server
    if disruption == "postgres":
        postgres = PrivatePostgres(workdir / "pg")
        log(f"scenario {number}: a private PostgreSQL cluster on port {postgres.port}")
        postgres.init()
        postgres.start()
        services["postgres"] = postgres
        database_url = postgres.url()
    else:
        database_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    scenario_environment(args, redis_server.url, database_url)
    recreate_database(args.database)

    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    from django.db import connection

    from bench.jobtypes import CHAOS_TABLE, CHAOS_TABLE_SQL
    from jobs.enqueue import enqueue_many
    from jobs.models import JobAttempt, JobRecord

    with connection.cursor() as cursor:
        cursor.execute(CHAOS_TABLE_SQL)
        cursor.execute(f"TRUNCATE {CHAOS_TABLE}")
    connection.close()

    ns = settings.QUEUE_NAMESPACE
    queues = [f"{ns}.{domain}{suffix}" for domain in settings.QUEUE_DOMAINS for suffix in (".high", "", ".low")]
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    if args.worker_command == "rqworker":
        worker_command = [*manage, "rqworker", *queues, "--with-scheduler"]
        workers_per_host = 1
    else:
        domains = list(settings.QUEUE_DOMAINS) if args.all_domains else ["default"]
        worker_command = [*manage, "jobs_workers", "--domains", ",".join(domains)]
        workers_per_host = sum(settings.QUEUE_CONCURRENCY[domain] for domain in domains)
    settings_used = {key: getattr(settings, key) for key in (
        "QUEUE_NAMESPACE", "QUEUE_JOB_HEARTBEAT", "QUEUE_HEARTBEAT_GRACE", "JOBS_SYSTEM_INTERVAL",
        "JOBS_RELAY_GRACE", "QUEUE_MAX_ATTEMPTS", "QUEUE_RESULT_TTL", "QUEUE_FAILURE_TTL")}
    result["settings"] = settings_used
    result["worker_command"] = " ".join(["manage.py", *worker_command[2:]])
    log(f"scenario {number} ({SCENARIOS[number][0]}): Redis on port {redis_server.port}, database "
        f"{database_url.rsplit('/', 1)[0]}/{args.database}; {args.hosts} hosts running "
        f"`{result['worker_command'] if len(result['worker_command']) < 80 else result['worker_command'][:77] + '...'}`"
        f"; settings {settings_used}")

    clock0 = time.monotonic()

    def now():
        return time.monotonic() - clock0

    services["scheduler"] = scheduler = Host(0, [*manage, "rqscheduler", "--queue", f"{ns}.default"],
                                             log_dir / "scheduler.log", 0.0)
    hosts = services["hosts"]
    host_numbers = iter(range(1, 1_000_000))

    def start_host():
        number = next(host_numbers)
        hosts.append(Host(number, worker_command, log_dir / f"host-{number:03d}.log", now()))

    for _ in range(args.hosts):
        start_host()

    import redis as redis_lib

    rconn = redis_lib.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=5)
    expected_workers = args.hosts * workers_per_host
    try:
        wait_until(lambda: rconn.scard("rq:workers") >= expected_workers, 90, interval=0.2,
                   what=f"{expected_workers} workers registered in Redis")
    except TimeoutError as exc:
        log(f"{exc}; going on with {rconn.scard('rq:workers')}")
    result["startup_seconds"] = round(now(), 2)

    # The work: all at once, in batches, from this process (an enqueue_many per batch, as an app does).
    crash_rng = random.Random(args.seed)
    payloads = [{"ms": args.job_ms} for _ in range(args.jobs)]
    enqueue_started = now()
    for first in range(0, len(payloads), 1000):
        enqueue_many(JOB_TYPE, payloads[first:first + 1000])
    connection.close()
    t0 = now()
    log(f"{args.jobs:,} jobs enqueued in {t0 - enqueue_started:.2f} s, {result['startup_seconds']:.1f} s after "
        f"start-up began")
    result["enqueued"] = args.jobs

    ledger = Ledger(JobRecord._meta.db_table, JobAttempt._meta.db_table, CHAOS_TABLE)
    n = args.jobs
    crashes = 0
    last_crash = None
    disrupted = disruption is None
    next_crash = t0 + args.crash_interval
    last_terminal, last_progress = 0, t0
    done_at = None
    exits = []
    last_report = t0

    def note_exits():
        for proc, what in [(scheduler, "scheduler"), *((h, f"host {h.number}") for h in hosts)]:
            if not proc.crashed and not proc.exit_seen and proc.proc.poll() is not None:
                proc.exit_seen = True
                exits.append({"what": what, "at": round(now() - t0, 2), "status": proc.proc.returncode,
                              "log": str(proc.log_path)})
                log(f"{what} exited on its own with status {proc.proc.returncode}")

    def terminal_of(counts):
        return sum(counts.get(s, 0) for s in TERMINAL)

    crashing = True
    while crashing:
        counts = ledger.counts()
        t = now()
        if counts is not None:
            terminal = terminal_of(counts)
            if terminal > last_terminal:
                last_terminal, last_progress = terminal, t
            if done_at is None and terminal >= n:
                done_at = t
        note_exits()
        if not disrupted and counts is not None and last_terminal >= args.disrupt_at * n:
            started = now()
            if disruption == "redis":
                log(f"Redis: killed, its data gone, {args.outage:g} s down, started again ({last_terminal} terminal)")
                redis_server.restart(down=args.outage)
            else:
                log(f"PostgreSQL: stopped (fast: connections cut), {args.outage:g} s down, started again "
                    f"({last_terminal} terminal)")
                services["postgres"].restart(down=args.outage)
            result["disruption_at"] = round(started - t0, 2)
            result["disruption_seconds"] = round(now() - started, 2)
            disrupted = True
            t = now()
        if t >= next_crash:
            alive = [h for h in hosts if not h.crashed]
            victim = min(alive, key=lambda h: h.started_at) if args.victim == "oldest" else crash_rng.choice(alive)
            victim.crash()
            start_host()
            crashes += 1
            last_crash = now()
            next_crash = max(next_crash + args.crash_interval, last_crash + args.crash_interval / 2)
        if t - last_report >= 5:
            last_report = t
            log(f"{t - t0:5.1f} s: {counts if counts is not None else 'database not answering'}; {crashes} crashes")
        if t - last_progress > args.settle:
            log(f"no progress for {args.settle:g} s: crashing stops" + ("" if disrupted else f"; the {disruption} "
                f"restart never came (it waits for {args.disrupt_at:.0%} of the records to be terminal)"))
            result["stalled"] = True
            crashing = False
        elif disrupted and (
            last_terminal >= args.crash_until * n
            or (args.max_crashes is not None and crashes >= args.max_crashes)
        ):
            crashing = False
        else:
            time.sleep(0.2)

    crash_end = last_crash if last_crash is not None else now()
    log(f"crashes over: {crashes}, the last at {crash_end - t0:.1f} s; waiting up to {args.settle:g} s for every "
        f"record to be terminal")
    settled_at = None
    while now() - crash_end <= args.settle:
        counts = ledger.counts()
        note_exits()
        if counts is not None and terminal_of(counts) >= n and sum(counts.values()) >= n:
            settled_at = now()
            if done_at is None:
                done_at = settled_at
            break
        if now() - last_report >= 5:
            last_report = now()
            log(f"{now() - t0:5.1f} s: {counts if counts is not None else 'database not answering'}")
        time.sleep(0.25)
    if settled_at is None:
        log(f"not settled {args.settle:g} s after the last crash")
    time.sleep(1.0)  # anything still finishing (there should be nothing) shows in the figures
    note_exits()

    result.update(crashes=crashes, last_crash_at=round(crash_end - t0, 2),
                  done_at=None if done_at is None else round(done_at - t0, 2),
                  settle_seconds=None if settled_at is None else round(max(0.0, settled_at - crash_end), 2),
                  exited_on_their_own=[{"log_tail": tail(e.pop("log")), **e} for e in exits])
    result.update(scan_logs(log_dir))
    figures(ledger, rconn, n, result)
    ledger.close()
    rconn.close()


def scan_logs(log_dir, samples=5):
    """Workers that quit on an error (RQ's "found an unhandled exception, quitting"), with the error that
    made them, and worker processes the ``jobs_workers`` supervisor restarted; the bench's own crashes
    are not counted (a SIGKILL leaves no line)."""
    quits, restarts = [], []
    for path in sorted(Path(log_dir).glob("host-*.log")):
        lines = path.read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if "found an unhandled exception, quitting" in line:
                error = next((later for later in lines[i + 1:i + 80]
                              if later and not later.startswith((" ", "Traceback", "During handling"))), "")
                quits.append(f"{path.name}: {line[11:23]} {error[:200]}")
            elif "jobs_workers: worker" in line and "exited with" in line:
                restarts.append(f"{path.name}: {line[11:23]} {line.split('jobs_workers: ', 1)[1][:200]}")
    return {"workers_quit_on_error": len(quits), "workers_quit_samples": quits[:samples],
            "supervisor_restarts": len(restarts), "supervisor_restart_samples": restarts[:samples]}


def figures(ledger, rconn, n, result):
    """The final figures, from the ledger, the execution rows and (for stuck records) Redis."""
    rows = None
    for _ in range(40):  # the database may still be coming back
        rows = ledger.query(f"""
            SELECT r.id::text, r.status, r.attempts, r.queue, coalesce(e.n, 0), coalesce(e.attempts, 0),
                   coalesce(a.lost, 0), coalesce(a.failed, 0), r.status_changed_at
            FROM {ledger.records} r
            LEFT JOIN (SELECT record_id, count(*) AS n, count(DISTINCT attempt) AS attempts
                       FROM {ledger.executions} GROUP BY record_id) e ON e.record_id = r.id
            LEFT JOIN (SELECT record_id, count(*) FILTER (WHERE outcome = 'lost') AS lost,
                              count(*) FILTER (WHERE outcome IN ('failed', 'timeout')) AS failed
                       FROM {ledger.attempts} GROUP BY record_id) a ON a.record_id = r.id
            WHERE r.job_type = %s""", [JOB_TYPE])
        if rows is not None:
            break
        time.sleep(0.5)
    if rows is None:
        raise RuntimeError("the database did not answer for the final figures")
    statuses = {}
    extra = explained = repeats = executions = lost_attempts = failed_attempts = phantom = 0
    stuck = []
    for record_id, status, attempts, queue, n_exec, n_exec_attempts, n_lost, n_failed, changed in rows:
        statuses[status] = statuses.get(status, 0) + 1
        executions += n_exec
        lost_attempts += n_lost
        failed_attempts += n_failed
        record_extra = max(0, n_exec - 1)
        extra += record_extra
        explained += min(record_extra, n_lost)
        repeats += n_exec - n_exec_attempts
        if status == "succeeded" and n_exec == 0:
            phantom += 1
        if status not in TERMINAL:
            stuck.append((changed, record_id, queue, status))
    succeeded, dead = statuses.get("succeeded", 0), statuses.get("dead", 0)
    lost = n - succeeded - dead + phantom
    result.update(
        records=len(rows), statuses=statuses, succeeded=succeeded, dead=dead, lost=lost, stuck=len(stuck),
        succeeded_without_execution=phantom, executions=executions, extra_executions=extra, explained=explained,
        unexplained=extra - explained, same_attempt_repeats=repeats, lost_attempts=lost_attempts,
        failed_attempts=failed_attempts,
    )
    stuck.sort()  # longest in their status first
    result["stuck_records"] = [stuck_detail(ledger, rconn, record_id, queue)
                               for _, record_id, queue, _ in stuck[:STUCK_SHOWN]]
    result["stuck_by_state"] = stuck_by_state(rconn, stuck)
    result["clean_registries_locks"] = clean_registries_locks(rconn)
    result["workers_registered_at_end"] = safe(lambda: rconn.scard("rq:workers"))
    result["goal_met"] = lost == 0 and len(stuck) == 0 and extra == explained and not result.get("error")
    settle = result.get("settle_seconds")
    result["settle_goal_met"] = settle is not None and settle <= GOAL_SETTLE
    result["settle_moonshot_met"] = settle is not None and settle <= MOONSHOT_SETTLE


def safe(read):
    try:
        return read()
    except Exception as exc:
        return f"unreadable: {exc}"


def stuck_detail(ledger, rconn, record_id, queue):
    """A record that is not terminal: what the ledger says, and where RQ has its job."""
    rows = ledger.query(f"""
        SELECT status, attempts, worker, status_changed_at, status_note::text, last_error_type,
               (SELECT string_agg(number || ':' || outcome, ',' ORDER BY number) FROM {ledger.attempts}
                WHERE record_id = r.id)
        FROM {ledger.records} r WHERE id = %s""", [record_id]) or [[None] * 7]
    status, attempts, worker, changed, note, error_type, attempt_outcomes = rows[0]
    detail = {"id": record_id, "status": status, "attempts": attempts, "attempt_outcomes": attempt_outcomes,
              "worker": worker, "last_error_type": error_type,
              "in_status_for": None if changed is None else round(
                  (datetime.now(timezone.utc) - changed).total_seconds(), 1),
              "status_note": note, "rq": safe(lambda: rq_state(rconn, record_id, queue))}
    return detail


def stuck_by_state(rconn, stuck, limit=5000):
    """How many stuck records per ledger status and place in RQ (``queued @ queue``, ``running @ nowhere``...)."""
    summary = {}
    for _, record_id, queue, status in stuck[:limit]:
        state = safe(lambda: rq_state(rconn, record_id, queue))
        where = state["in"] if isinstance(state, dict) else state
        where = "nowhere" if where == "nowhere" else "+".join(sorted({w.split(" (")[0].split(" ")[0] for w in where}))
        key = f"{status} @ {where}"
        summary[key] = summary.get(key, 0) + 1
    return summary


def rq_state(rconn, job_id, queue):
    """Where RQ holds the job: its hash's status and origin, and every list or registry that names it."""
    job = {k.decode(): v.decode(errors="replace") for k, v in rconn.hgetall(f"rq:job:{job_id}").items()
           if k.decode() in ("status", "origin", "worker_name", "enqueued_at", "started_at", "ended_at")}
    queues = {queue, job.get("origin") or queue}
    where = []
    for q in sorted(queues):
        if rconn.lpos(f"rq:queue:{q}", job_id) is not None:
            where.append(f"queue {q}")
        for registry in ("scheduled", "failed", "finished", "deferred", "canceled"):
            if rconn.zscore(f"rq:{registry}:{q}", job_id) is not None:
                where.append(f"{registry} {q}")
        for member, score in rconn.zrange(f"rq:wip:{q}", 0, -1, withscores=True):
            if member.decode().split(":", 1)[0] == job_id:
                where.append(f"started {q} (heartbeat expires in {score - time.time():.0f} s)")
    workers = [w.decode() for w in rconn.smembers("rq:workers")]
    owner = job.get("worker_name")
    return {"job": job or "no rq:job hash", "in": where or "nowhere",
            "worker_alive": None if not owner else bool(rconn.exists(f"rq:worker:{owner}")),
            "workers_registered": len(workers)}


def clean_registries_locks(rconn):
    locks = {}
    for key in rconn.scan_iter("rq:clean_registries:*"):
        locks[key.decode()] = rconn.ttl(key)
    return locks


if __name__ == "__main__":
    sys.exit(main())
