"""Exports at scale: rows/s and peak memory of the ``exports.generate`` job, and the export API under load.

Run by hand, it is not a test (~2 min; seeding takes ~10 s of it and ``--reuse`` skips it; ``--quick``:
100,000 rows and 300 requests, ~30 s)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \\
    .venv/bin/python bench/export_scale.py [--quick] [--rows N] [--reuse] [--requests N] [--clients N]

Isolation: its own PostgreSQL database (``--database``, default ``jobdesk_export_bench``: created if
missing, migrated, its jobs, exports, tokens and audit events emptied at start; the project's, the tests'
and the other benches' databases are refused), its own Redis database (``--redis-db``, default 8,
flushed at start and end), namespace ``jdexport`` and a temporary MEDIA_ROOT. This process, its workers
and gunicorn get the Makefile's bench environment and ALLOWED_HOSTS=127.0.0.1,localhost.

Seeding, by PostgreSQL COPY: N AnalyticsEvents (``--rows``) for one guild and N/10 for another, in time
order over 30 days (busier evenings): messages 55%, reactions 20%, commands 12%, voice minutes 8%, members
joined 3% and left 2%, with channel and user ids, emoji, commands or invites in ``dimensions``.

1. The job. For N/10 rows, then N, and each format: ``exports.services.export_request`` for the whole
   range and every metric, run by a real worker process, ``manage.py rqworker jdexport.exports --burst
   --worker-class bench.export_scale.RssWorker``: ``jobs.worker.Worker`` (forking, production's default:
   the job runs in a work horse) noting two figures. rows/s = rows / (the ledger's ``succeeded_at`` -
   ``started_at``: claim to success). Peak RSS = ``ru_maxrss`` of the rusage ``os.wait4`` hands the worker
   when it reaps the horse: the kernel's high-water mark of that process from fork to exit, nothing
   sampled. A horse starts at its parent's RSS (shared copy-on-write pages count): the worker's RSS at
   fork is shown beside. Checked: the job succeeded, ``Export.rows`` is N, and the file decrypts intact to
   the recorded size and SHA-256 (and N lines, plus a header for CSV, for CSV and JSON Lines).
   Goals: >= 50,000 rows/s for CSV and JSON Lines; peak RSS < 200 MB, not growing with rows.
2. The enqueue endpoint. ``gunicorn project.wsgi -w 2`` (sync workers) serves ``POST
   /api/control-panel/analytics/export`` (a 7-day CSV of two metrics), authenticated by a guild token from
   ``project.tenancy.api_token_create``: 20 untimed requests, one client alone (200 requests: the cost of
   a request without queueing), then ``--clients`` (50) threads for ``--requests`` (2,000) requests or
   ``--duration`` seconds, each on an http.client connection that reopens when the server closes it (sync
   workers close after every answer). Latency: sending a request to reading its whole answer. Printed:
   requests/s, p50, p99, max, non-202 answers and this process's CPU. Every 202 made an Export and a
   queued job (no worker runs then), which is checked. Goals: p99 < 50 ms, no answer but 202.
   That closed loop keeps every client waiting on the server, so its latency is the queue in front of
   two workers (p50 ~ 50 / capacity): its rate is the endpoint's capacity. The same closed loop then
   POSTs the same body to a bare Django view served by the same gunicorn (bench/bare_endpoint.py:
   validate the body, check the guild exists, enqueue to RQ): the capacity ratio's yardstick (goal
   >= 0.7). Then an open loop at 80% of the endpoint's capacity (``--rates`` to choose rates): requests
   due at that total rate, sent by the 50 clients, latency counted from when each was due (no
   coordinated omission): goal p99 < 50 ms; and the bare view at 80% of its own capacity beside it.
"""

import argparse
import hashlib
import http.client
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # `python bench/export_scale.py` puts bench/ first, not the project
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, percentile, raw_connection  # noqa: E402

FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk", "jobdesk_bench", "jobdesk_admin_bench"}
FORBIDDEN_REDIS_DBS = {11, 13, 14}  # the admin bench's, the throughput bench's, the test suite's
ROWS_GOAL, RSS_GOAL_MB, P99_GOAL_MS = 50_000, 200, 50
FORMATS = ("csv", "jsonl", "xlsx")
API_PATH = "/api/control-panel/analytics/export"
BARE_PATH = "/bench/bare-export"  # bench/bare_endpoint.py
DURABLE_PATH = "/bench/bare-export-durable"
KINDS = {"messages": 55, "reactions": 20, "commands": 12, "voice_minutes": 8, "members_joined": 3, "members_left": 2}
HOUR_WEIGHTS = [3, 2, 1, 1, 1, 1, 2, 3, 4, 5, 5, 6, 6, 6, 6, 7, 8, 9, 10, 11, 11, 10, 7, 5]
EXTRA = {  # kind: (dimension, its values) beside channel_id and user_id
    "messages": ("length", range(1, 400)), "reactions": ("emoji", ["👍", "😂", "❤️", "🎉", "🔥", "pepe_hype"]),
    "commands": ("command", ["rank", "play", "skip", "help", "poll", "remind", "ban"]), "voice_minutes": None,
    "members_joined": ("invite", ["vanity", "aB3xYz", "r3ddit", "tw1tch"]),
    "members_left": ("reason", ["left", "left", "left", "kicked", "banned"]),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="short run: 100,000 rows, 300 requests")
    add("--rows", type=int, help="rows of the big export (1,000,000; quick 100,000); the small one: a tenth")
    add("--requests", type=int, help="POSTs to the export endpoint (2,000; quick 300)")
    add("--clients", type=int, default=50, help="concurrent HTTP clients (50)")
    add("--duration", type=float, default=120, help="stop the load after this many seconds (120)")
    add("--rates", type=lambda v: [float(r) for r in v.split(",") if r], default=[],
        help="open-loop runs after the closed ones: total requests/s offered by the clients "
             "(default: 80%% of the endpoint's measured capacity, and the bare view at 80%% of its own)")
    add("--open-seconds", type=float, help="length of each open-loop run (8; quick 3)")
    add("--endpoint-only", action="store_true", help="measure the enqueue endpoint only, no exports")
    add("--reuse", action="store_true", help="skip seeding when the bench guilds already hold those rows")
    add("--database", default="jobdesk_export_bench", help="PostgreSQL database (jobdesk_export_bench)")
    add("--redis-db", type=int, default=8, help="Redis database, flushed at start and end (8)")
    args = parser.parse_args()
    args.rows = args.rows or (100_000 if args.quick else 1_000_000)
    args.requests = args.requests or (300 if args.quick else 2_000)
    args.open_seconds = args.open_seconds or (3 if args.quick else 8)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database belongs to the project, its tests or benches")
    if args.redis_db in FORBIDDEN_REDIS_DBS:
        parser.error(f"--redis-db {args.redis_db}: used by the test suite or another bench")
    return args


def setup(args, media_root):
    """The bench environment for this process and its children; create and migrate the database."""
    bench_environment(args.database, args.redis_db, ALLOWED_HOSTS="127.0.0.1,localhost",
                      QUEUE_NAMESPACE="jdexport", MEDIA_ROOT=media_root)
    create_database(args.database)
    import django

    django.setup()
    from django.core.management import call_command

    logging.disable(logging.WARNING)  # this process only; the workers and gunicorn log to files
    call_command("migrate", verbosity=0, interactive=False)
    from bench.bare_endpoint import DURABLE_TABLES_SQL

    with raw_connection() as conn:  # the durable yardstick's tables
        for statement in DURABLE_TABLES_SQL:
            conn.execute(statement)
        conn.execute("TRUNCATE bench_bare_request, bench_bare_job")
    with raw_connection() as conn:  # what earlier runs left, except the analytics rows (for --reuse)
        conn.execute("TRUNCATE exports_export, jobs_jobattempt, jobs_jobrecord, audit_auditevent, "
                      "project_guildapitoken CASCADE")


# --- seeding ------------------------------------------------------------------------------------------


def event_rows(guild_id, n, rng, end):
    """``n`` COPY rows (guild_id, kind, time, value, dimensions) in time order over the 30 days before ``end``."""
    days, hours = [rng.randrange(30) for _ in range(n)], rng.choices(range(24), HOUR_WEIGHTS, k=n)
    offsets = sorted(d * 86400 + h * 3600 + rng.random() * 3600 for d, h in zip(days, hours))
    kinds = rng.choices(list(KINDS), list(KINDS.values()), k=n)
    users = rng.choices([str(rng.randrange(10**17, 10**18)) for _ in range(5000)],  # a few very active members
                        [1 / rank ** 0.9 for rank in range(1, 5001)], k=n)
    channels = [str(rng.randrange(10**17, 10**18)) for _ in range(40)]
    start = end - timedelta(days=30)
    for offset, kind, user in zip(offsets, kinds, users):
        dims = {"user_id": user}
        if not kind.startswith("members"):
            dims["channel_id"] = rng.choice(channels)
        if EXTRA[kind]:
            dims[EXTRA[kind][0]] = rng.choice(EXTRA[kind][1])
        value = round(rng.expovariate(1 / 25) + 0.1, 1) if kind == "voice_minutes" else 1.0
        yield guild_id, kind, start + timedelta(seconds=offset), value, json.dumps(dims, ensure_ascii=False)


def bench_guilds(args):
    """The big guild (``--rows`` events), the small one (a tenth) and the API's; seeded unless reused."""
    from exports.models import AnalyticsEvent
    from project.models import Guild

    sizes = {"export-bench-big": args.rows, "export-bench-small": max(1, args.rows // 10)}
    guilds = {slug: Guild.objects.get_or_create(slug=slug, defaults={"name": slug})[0] for slug in sizes}
    api_guild = Guild.objects.get_or_create(slug="export-bench-api", defaults={"name": "export-bench-api"})[0]
    counts = {slug: AnalyticsEvent.objects.filter(guild=guilds[slug]).count() for slug in sizes}
    result = [(guilds[slug], n) for slug, n in sizes.items()][::-1], api_guild  # the small one first
    if args.reuse and counts == sizes:
        print(f"analytics: reused ({', '.join(f'{slug} {n:,}' for slug, n in counts.items())})")
        return result
    started, rng = time.perf_counter(), random.Random(42)
    end = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    with raw_connection() as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE exports_analyticsevent RESTART IDENTITY")
        columns = "guild_id, kind, time, value, dimensions"
        for slug, n in sizes.items():
            with cursor.copy(f"COPY exports_analyticsevent ({columns}) FROM STDIN") as copy:
                for row in event_rows(guilds[slug].pk, n, rng, end):
                    copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        cursor.execute("VACUUM ANALYZE exports_analyticsevent")
        cursor.execute("CHECKPOINT")  # write the seeded pages out now, not while exports are timed
    print(f"analytics: {sum(sizes.values()):,} rows seeded by COPY in {time.perf_counter() - started:.1f} s")
    return result


# --- 1: the export job in a real worker ---------------------------------------------------------------


if os.environ.get("JDEXPORT_RSS_FILE"):  # imported by the bench's worker process, after django.setup()
    from jobs.worker import Worker

    class RssWorker(Worker):
        """``jobs.worker.Worker`` noting its RSS when it forks a horse and the horse's ``ru_maxrss`` when it
        reaps it."""

        def execute_job(self, job, queue):
            with open("/proc/self/status") as status:
                self._fork_rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            super().execute_job(job, queue)

        def wait_for_horse(self):
            pid, status, rusage = super().wait_for_horse()
            if pid and rusage:
                Path(os.environ["JDEXPORT_RSS_FILE"]).write_text(
                    json.dumps({"fork_kb": self._fork_rss_kb, "horse_kb": rusage.ru_maxrss}))
            return pid, status, rusage


def run_worker(log_path, timeout):
    """One burst worker on the exports queue; returns (exit code, worker RSS at fork, horse peak RSS) in KB."""
    from jobs.connection import queue_name

    command = [sys.executable, str(BASE_DIR / "manage.py"), "rqworker", queue_name("exports"), "--burst",
               "--worker-class", "bench.export_scale.RssWorker"]
    rss_file = log_path.with_suffix(".rss")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "JDEXPORT_RSS_FILE": str(rss_file)})
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass  # reported by the caller: the job has not succeeded
    finally:
        if proc.poll() is None:  # timed out or interrupted: the worker's own session, it and its horse
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    rss = json.loads(rss_file.read_text()) if rss_file.exists() else {"fork_kb": 0, "horse_kb": 0}
    return proc.returncode, rss["fork_kb"], rss["horse_kb"]


def verify_file(export, rows):
    """Decrypt the stored file; it must match the recorded size and SHA-256, and hold ``rows`` rows."""
    from django.core.files.storage import default_storage

    from exports.crypto import decrypt_chunks

    digest, size, lines = hashlib.sha256(), 0, 0
    with default_storage.open(export.file_name, "rb") as raw:
        for chunk in decrypt_chunks(raw):
            digest.update(chunk)
            size, lines = size + len(chunk), lines + chunk.count(b"\n")
    expected = {"csv": rows + 1, "jsonl": rows}.get(export.format, lines)
    if size != export.size or digest.hexdigest() != export.sha256 or lines != expected:
        raise SystemExit(f"{export.format} export {export.pk}: file of {size} bytes, {lines} lines does not match "
                         f"the record ({export.size} bytes, {rows} rows)")


def export_run(guild, rows, fmt, log_dir):
    from django.db.models import Max, Min

    from exports.models import AnalyticsEvent
    from exports.services import METRICS, export_request

    span = AnalyticsEvent.objects.filter(guild=guild).aggregate(first=Min("time"), last=Max("time"))
    export, _ = export_request(guild=guild, user=None, format=fmt, start=span["first"].date(),
                               end=span["last"].date(), metrics=list(METRICS))
    print(f"exporting {rows:,} rows as {fmt} ...", flush=True)
    log_path = Path(log_dir) / f"worker-{guild.slug}-{fmt}.log"
    wall = time.perf_counter()
    code, fork_kb, horse_kb = run_worker(log_path, timeout=120 + rows / 1000)
    wall = time.perf_counter() - wall
    export.refresh_from_db()
    job = export.job
    job.refresh_from_db()
    if code != 0 or job.status != "succeeded" or export.rows != rows:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(f"{fmt} export of {rows:,} rows: worker exit {code}, job {job.status} "
                         f"({job.last_error_type}: {job.last_error[:300]}), {export.rows} rows\n{tail}")
    verify_file(export, rows)
    seconds = (job.succeeded_at - job.started_at).total_seconds()
    return {"format": fmt, "rows": rows, "seconds": seconds, "wall": wall, "rate": rows / seconds,
            "rss_mb": horse_kb / 1024, "fork_mb": fork_kb / 1024, "bytes": export.size}


# --- 2: the enqueue endpoint under load ---------------------------------------------------------------


def start_gunicorn(log_dir):
    with socket.socket() as sock:  # a free port
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [str(Path(sys.executable).with_name("gunicorn")), "project.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bare_settings"}  # the project's, plus the bare view
    with open(Path(log_dir) / "gunicorn.log", "wb") as log:
        proc = subprocess.Popen(command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc, port
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    stop_gunicorn(proc)
    raise SystemExit("gunicorn did not answer /healthz with 200:\n" + (Path(log_dir) / "gunicorn.log").read_text())


def stop_gunicorn(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the master and its workers
            proc.wait()


def load(port, token, guild, clients, requests, duration, rate=None, path=API_PATH):
    """``clients`` threads POST until ``requests`` are sent or ``duration`` seconds have passed.

    Closed loop (no ``rate``): each client sends its next request as soon as it has the answer. Open
    loop (``rate`` requests/s in all): request k is due at ``k / rate`` seconds, sent by the next free
    client, and its latency counts from when it was due, so a slow server is not flattered by clients
    that waited for it (no coordinated omission)."""
    today = datetime.now(timezone.utc).date()
    body = json.dumps({"guild": guild.pk, "format": "csv", "start": str(today - timedelta(days=7)),
                       "end": str(today), "metrics": ["messages", "commands"]}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lock, latencies, statuses, closed = threading.Lock(), [], Counter(), [0]
    left, deadline = [requests], time.monotonic() + duration

    sent = [0]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # reconnects when the server closes
        while True:
            with lock:
                if left[0] <= 0 or time.monotonic() > deadline:
                    break
                left[0] -= 1
                due = began + sent[0] / rate if rate else None
                sent[0] += 1
            if due is not None and due > time.perf_counter():
                time.sleep(due - time.perf_counter())
            started = due if due is not None else time.perf_counter()
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                status, close = response.status, response.getheader("Connection", "").lower() == "close"
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, close = type(exc).__name__, True
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed * 1000)
                statuses[status] += 1
                closed[0] += close
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = started = time.perf_counter()
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"path": path, "clients": clients, "offered": rate, "requests": len(latencies), "rate": len(latencies) / elapsed,
            "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "max": max(latencies),
            "statuses": statuses, "closed": closed[0], "seconds": elapsed, "client_cpu": cpu / elapsed}


def endpoint_run(guild, args, log_dir):
    """gunicorn up; a warm-up, one client alone (the cost of a request), then the load; gunicorn down."""
    from exports.models import Export
    from jobs.models import JobRecord
    from project.tenancy import api_token_create

    _, token = api_token_create(guild=guild, name="export bench")
    proc, port = start_gunicorn(log_dir)
    try:
        runs = [load(port, token, guild, 2, 20, 30), load(port, token, guild, 2, 20, 30, path=BARE_PATH)]  # untimed
        runs.append(load(port, token, guild, 1, min(200, args.requests), args.duration))
        capacity = load(port, token, guild, args.clients, args.requests, args.duration)
        bare = load(port, token, guild, args.clients, args.requests, args.duration, path=BARE_PATH)
        durable = load(port, token, guild, args.clients, args.requests, args.duration, path=DURABLE_PATH)
        runs += [capacity, bare, durable]
        for rate in args.rates or [0.8 * capacity["rate"]]:
            runs.append(load(port, token, guild, args.clients, int(rate * args.open_seconds), args.duration, rate=rate))
        if not args.rates:  # the yardstick at 80% of its own capacity
            rate = 0.8 * bare["rate"]
            runs.append(load(port, token, guild, args.clients, int(rate * args.open_seconds), args.duration, rate=rate,
                             path=BARE_PATH))
    finally:
        stop_gunicorn(proc)
    accepted = sum(run["statuses"][202] for run in runs if run["path"] == API_PATH)
    exports = Export.objects.filter(guild=guild).count()
    queued = JobRecord.objects.filter(guild=guild, status="queued").count()
    if not exports == queued == accepted:
        raise SystemExit(f"endpoint: {accepted} answers 202, but {exports} exports and {queued} queued jobs")
    return runs[2:]


# --- report -------------------------------------------------------------------------------------------


def report(exports, endpoint):
    if exports:
        report_exports(exports)
    report_endpoint(endpoint)


def report_exports(exports):
    print(f"\n{'export':8} {'rows':>10} {'job s':>7} {'rows/s':>9} {'peak RSS MB':>11} {'at fork MB':>10} "
          f"{'file MB':>8} {'worker s':>8}   goal")
    for r in exports:
        misses = [w for w, bad in ((f"rows/s < {ROWS_GOAL:,}", r["format"] != "xlsx" and r["rate"] < ROWS_GOAL),
                                   (f"RSS >= {RSS_GOAL_MB} MB", r["rss_mb"] >= RSS_GOAL_MB)) if bad]
        print(f"{r['format']:8} {r['rows']:10,} {r['seconds']:7.1f} {r['rate']:9,.0f} {r['rss_mb']:11.1f} "
              f"{r['fork_mb']:10.1f} {r['bytes'] / 2**20:8.1f} {r['wall']:8.1f}   "
              f"{'MISSED: ' + ', '.join(misses) if misses else 'ok'}")
    growth = [f"{fmt} {big['rss_mb'] - small['rss_mb']:+.1f} MB" for fmt in FORMATS
              for small, big in [[r for r in exports if r["format"] == fmt]]]
    print(f"  peak RSS from {exports[0]['rows']:,} to {exports[-1]['rows']:,} rows: {', '.join(growth)}")
    print(f"goals: >= {ROWS_GOAL:,} rows/s for csv and jsonl; peak RSS (the horse's) < {RSS_GOAL_MB} MB at any "
          "size\n(job s: ledger started_at..succeeded_at; worker s: process start to exit; file MB: plaintext)")


def report_endpoint(endpoint):
    print(f"\nPOST {API_PATH}, gunicorn -w 2 (sync workers)")
    print(f"{'clients':>7} {'loop':>12} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'non-202':>7} {'client CPU':>10}   goal")
    closed = [e for e in endpoint if not e["offered"] and e["path"] == API_PATH][-1]
    bare_closed = [e for e in endpoint if not e["offered"] and e["path"] == BARE_PATH][-1]
    durable_closed = [e for e in endpoint if not e["offered"] and e["path"] == DURABLE_PATH][-1]
    yardsticks = {BARE_PATH: "bare view: validate + RQ enqueue", DURABLE_PATH: "bare view + 2 rows, 1 commit"}
    for e in endpoint:
        if e["path"] in yardsticks:
            loop = f"open {e['offered']:,.0f}/s" if e["offered"] else "closed"
            print(f"{e['clients']:7} {loop:>12} {e['requests']:8,} {e['rate']:7.1f} {e['p50']:7.1f} {e['p99']:7.1f} "
                  f"{e['max']:7.1f} {sum(n for st, n in e['statuses'].items() if st != 202):7} "
                  f"{e['client_cpu']:9.0%}   ({yardsticks[e['path']]})")
            continue
        bad = sum(n for status, n in e["statuses"].items() if status != 202)
        misses = [w for w, miss in ((f"p99 >= {P99_GOAL_MS} ms", e["p99"] >= P99_GOAL_MS), ("non-202", bad)) if miss]
        verdict = "MISSED: " + ", ".join(misses) if misses else "ok"
        goal = "(capacity)" if e is closed else "(alone)" if e["clients"] == 1 else f"open loop: {verdict}"
        loop = f"open {e['offered']:,.0f}/s" if e["offered"] else "closed"
        print(f"{e['clients']:7} {loop:>12} {e['requests']:8,} {e['rate']:7.1f} {e['p50']:7.1f} {e['p99']:7.1f} "
              f"{e['max']:7.1f} {bad:7} {e['client_cpu']:9.0%}   {goal}")
    print(f"capacity: endpoint {closed['rate']:.0f} req/s, bare view {bare_closed['rate']:.0f} req/s, ratio "
          f"{closed['rate'] / bare_closed['rate']:.2f} (goal >= 0.70); bare view writing two rows in one commit "
          f"{durable_closed['rate']:.0f} req/s, ratio {closed['rate'] / durable_closed['rate']:.2f}")
    print(f"goals: p99 < {P99_GOAL_MS} ms open-loop at 80% of capacity, only 202 answers "
          "(client CPU: this process, 100% = one core)\n"
          "closed: each client sends again as soon as it is answered, so p50 ~ clients / capacity (Little's law);\n"
          "open: requests due at a fixed total rate, latency counted from when each was due")


def main():
    args = parse_args()
    began = time.perf_counter()
    media_root, log_dir = tempfile.mkdtemp(prefix="jdexport-media-"), tempfile.mkdtemp(prefix="jdexport-logs-")
    failed = True
    try:
        setup(args, media_root)
        from jobs.connection import redis_connection

        print(f"export bench: database {args.database}, Redis {os.environ['REDIS_URL']}, namespace jdexport, "
              f"{args.rows:,} rows, {args.requests:,} requests from {args.clients} clients; {os.cpu_count()} CPUs, "
              f"load average {os.getloadavg()[0]:.2f} before the run")
        redis_connection().flushdb()
        guilds, api_guild = bench_guilds(args)
        exports = [] if args.endpoint_only else [
            export_run(guild, rows, fmt, log_dir) for guild, rows in guilds for fmt in FORMATS]
        print("endpoint: gunicorn, warm-up, 1 client, then the load ...", flush=True)
        endpoint = endpoint_run(api_guild, args, log_dir)
        report(exports, endpoint)
        redis_connection().flushdb()
        failed = False
    finally:
        shutil.rmtree(media_root, ignore_errors=True)
        if failed:
            print(f"worker and gunicorn logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir)
    print(f"\nrun time {time.perf_counter() - began:.0f} s; the database {args.database} is left in place "
          f"(--reuse skips seeding next time)")


if __name__ == "__main__":
    main()
