"""The Django admin on a big ledger: how fast staff pages answer at 1,000,000 JobRecords.

Run by hand, it is not a test (seeding 1,000,000 jobs takes ~70 s; ``--reuse`` skips it when the ledger
already holds that many; ``--quick`` is a ~10 s smoke run at 50,000 jobs)::

    DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=testserver \\
    EXPORTS_ENCRYPTION_KEYS=test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jobdesk_admin_bench \\
    REDIS_URL=redis://127.0.0.1:6379/11 QUEUE_NAMESPACE=jdadmin \\
    .venv/bin/python bench/admin_scale.py [--quick] [--rows N] [--reuse] [--repeat K] [--fresh]

Isolation: its own PostgreSQL database (``--database``, default ``jobdesk_admin_bench``, on the host of
DATABASE_URL: created if missing, migrated; ``--fresh`` drops it first; ``jobdesk``, ``test_jobdesk`` and
``jobdesk_bench`` are refused) and its own Redis database (``--redis-db``, default 11, flushed at start
and at the end). Static files use the plain storage in this process, so no collectstatic is needed.

Seeding, by PostgreSQL COPY (psycopg 3): 200 guilds (a few busy, a long tail), 5 actor users, then N
JobRecords in time order over 90 days: ~91% succeeded, 2% dead, 1% canceled, and a backlog of open jobs
from the last 3 hours (3% queued, 1% running, 2% retrying); ten job types on ``<ns>.<domain>[.high|.low]``
queues; correlation IDs shared by 1-4 jobs; 1-5 JobAttempts per started job (~1.3 per job; failed ones
carry error and traceback); three AuditEvents for every tenth job. Then VACUUM ANALYZE and CHECKPOINT.
In Redis: ``--failed`` jobs (10,000) in the FailedJobRegistry of ``<ns>.notifications``, saved as a
failing bare-RQ worker leaves them (JSON serializer).

Measured: a staff user (not a superuser) holding every ``jobs`` permission, logged in with
``django.test.Client`` (force_login), GETs each page twice untimed, ``--repeat`` times (20) timed end to
end (middleware, queries, rendering), then once more under CaptureQueriesContext for the number of
queries, their total time and the slowest. Pages: the JobRecord changelist, ``?status__exact=dead``,
search by a real correlation ID and by a real job id, ``?p=500`` (and, when the admin caps its page
count below that, the deepest page it serves), a dead job's page, the queues and dead-letter pages
(reported "missing" until they exist) and django-rq's failed-jobs page of the seeded queue.
Goals: every jobdesk page p50 < 300 ms and p95 < 600 ms at 1,000,000 rows, and a p50 below django-rq's
failed page at 10,000 failed jobs. For each miss, the slowest query's EXPLAIN (ANALYZE, BUFFERS) is shown.
"""

import argparse
import json
import logging
import os
import random
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:  # `python bench/admin_scale.py` puts bench/ first, not the project
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, percentile, raw_connection  # noqa: E402

FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk", "jobdesk_bench"}
FORBIDDEN_REDIS_DBS = {13, 14}  # the throughput bench's and the test suite's
P50_GOAL_MS, P95_GOAL_MS = 300, 600
FAILED_DOMAIN = "notifications"
STATUSES = {"succeeded": 909, "queued": 30, "running": 10, "retrying": 20, "dead": 20, "canceled": 10, "pending": 1}
OPEN = {"pending", "queued", "running", "retrying"}
JOB_TYPES = [  # name, queue domain, max attempts, weight
    ("audit.record_event", "audit", 5, 30), ("audit.rollup_daily", "audit", 3, 2),
    ("notifications.webhook", "notifications", 5, 18), ("notifications.email", "notifications", 5, 10),
    ("notifications.dlq_alert", "notifications", 3, 1), ("exports.generate", "exports", 3, 6),
    ("exports.deliver", "exports", 5, 5), ("branding.fanout", "branding", 5, 8),
    ("branding.shard_push", "branding", 5, 15), ("maintenance.cleanup", "default", 3, 5),
]
ERRORS = [
    ("requests.exceptions.ConnectTimeout", "HTTPSConnectionPool(host='hooks.example.com', port=443): timed out"),
    ("redis.exceptions.TimeoutError", "Timeout reading from socket"),
    ("django.db.utils.OperationalError", "canceling statement due to statement timeout"),
    ("botocore.exceptions.ClientError", "An error occurred (SlowDown) when calling the PutObject operation"),
    ("jobs.errors.NonRetryable", "guild has no export destination configured"),
]
ATTEMPTS_IF_SUCCEEDED = ([1, 2, 3, 4, 5], [80, 13, 5, 1.5, 0.5])
RECORD_COLUMNS = (
    "id job_type queue priority payload status attempts max_attempts run_at correlation_id actor_id guild_id "
    "parent_id progress progress_message result last_error_type last_error worker cancel_requested created_at "
    "queued_at started_at retrying_at succeeded_at dead_at canceled_at status_changed_at").split()
ATTEMPT_COLUMNS = ("record_id number queue worker correlation_id started_at ended_at outcome error_type "
                   "error_message traceback retry_delay").split()
AUDIT_COLUMNS = "created_at actor_id action resource_type resource_id guild_id correlation_id data".split()
TABLES = (("jobs_jobrecord", RECORD_COLUMNS), ("jobs_jobattempt", ATTEMPT_COLUMNS), ("audit_auditevent", AUDIT_COLUMNS))


def fail(n=0):
    """The function of the seeded failed RQ jobs (never run: the jobs are written as already failed)."""
    raise RuntimeError(f"webhook {n} answered 503")


# --- set-up -------------------------------------------------------------------------------------------


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 50,000 rows, 1,000 failed RQ jobs, repeat 5")
    add("--rows", type=int, help="JobRecords to seed (1,000,000; quick 50,000)")
    add("--failed", type=int, help="failed jobs in RQ's failed registry (10,000; quick 1,000)")
    add("--repeat", type=int, help="timed GETs per page (20; quick 5)")
    add("--reuse", action="store_true", help="skip seeding the ledger when it already holds --rows jobs")
    add("--fresh", action="store_true", help="drop and re-create the bench database first")
    add("--database", default="jobdesk_admin_bench", help="PostgreSQL database (jobdesk_admin_bench)")
    add("--redis-db", type=int, default=11, help="Redis database, flushed at start (11)")
    add("--seed", type=int, default=42, help="random seed of the generated data (42)")
    args = parser.parse_args()
    defaults = {"rows": (1_000_000, 50_000), "failed": (10_000, 1_000), "repeat": (20, 5)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database belongs to the project, its tests or benches")
    if args.redis_db in FORBIDDEN_REDIS_DBS:
        parser.error(f"--redis-db {args.redis_db}: used by the test suite or the throughput bench")
    return args


def setup(args):
    """Point this process at the bench's own database and Redis db, create and migrate the database."""
    os.environ.setdefault("QUEUE_NAMESPACE", "jdadmin")
    bench_environment(args.database, args.redis_db, ALLOWED_HOSTS="testserver")  # django.test.Client's host
    create_database(args.database, fresh=args.fresh)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    logging.disable(logging.WARNING)  # no "Not Found" lines for missing pages; errors still print
    try:
        call_command("migrate", verbosity=0, interactive=False)
    except Exception as exc:
        sys.exit(f"migrate failed on {args.database}: {exc}\n(migrations renamed since it was made? try --fresh)")
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()


# --- seeding: the ledger ------------------------------------------------------------------------------


def check_columns(conn, table, columns):
    """Fail clearly if a migration added a NOT NULL column without a default that COPY does not fill."""
    missing = [name for (name,) in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL AND is_identity = 'NO'", [table]) if name not in columns]
    if missing:
        sys.exit(f"{table}: NOT NULL columns {missing} are not seeded; update bench/admin_scale.py")


def job_rows(first, count, n, world, rng):
    """COPY rows (records, attempts, audit events) for jobs number ``first`` .. ``first + count - 1``."""
    now, span, ns = world["now"], timedelta(days=90), world["namespace"]
    statuses = rng.choices(list(STATUSES), list(STATUSES.values()), k=count)
    types = rng.choices(JOB_TYPES, [t[3] for t in JOB_TYPES], k=count)
    guilds = rng.choices(world["guilds"], cum_weights=world["guild_weights"], k=count)
    records, attempts, audits = [], [], []
    cid = uuid.uuid4().hex
    for k in range(count):
        i, status, (job_type, domain, max_attempts, _) = first + k, statuses[k], types[k]
        if rng.random() < 0.65:  # else: enqueued by the same request, or by the previous job
            cid = uuid.uuid4().hex
        job_id, guild = uuid.uuid4(), guilds[k] if rng.random() < 0.95 else None
        actor = rng.choice(world["actors"]) if rng.random() < 0.15 else None
        priority = rng.choices(("default", "high", "low"), (85, 10, 5))[0]
        queue = f"{ns}.{domain}" if priority == "default" else f"{ns}.{domain}.{priority}"
        if status in OPEN:
            created = now - timedelta(seconds=rng.uniform(0, 3 * 3600))
        else:
            created = now - span + span * (i / n) - timedelta(seconds=rng.uniform(0, 5))
        if status in ("pending", "queued") or (status == "canceled" and rng.random() < 0.5):
            tries = 0
        elif status in ("running", "canceled"):
            tries = 1
        elif status == "retrying":
            tries = rng.randint(1, max_attempts - 1)
        elif status == "dead":
            tries = max_attempts if rng.random() < 0.8 else 1
        else:
            tries = min(max_attempts, rng.choices(*ATTEMPTS_IF_SUCCEEDED)[0])
        queued_at = None if status == "pending" else created + timedelta(milliseconds=5)
        at, worker, error, started_at, retry_delay = created, "", ("", ""), None, None
        for number in range(1, tries + 1):
            start = at + timedelta(seconds=rng.uniform(0.01, 2) if number == 1 else retry_delay)
            started_at = started_at or start
            worker = f"{domain}-{rng.randint(1, 4)}.{rng.randint(1000, 9999)}"
            end = start + timedelta(seconds=rng.uniform(0.05, 30 if domain == "exports" else 3))
            last = number == tries
            outcome = {"succeeded": "succeeded", "running": "running", "canceled": "canceled"}.get(status, "failed")
            outcome = outcome if last else "failed"
            retry_delay, tb = None, ""
            if outcome == "failed":
                error = rng.choice(ERRORS[:-1] if status != "dead" or tries > 1 else ERRORS[-1:])
                tb = (f'Traceback (most recent call last):\n  File "/app/jobs/runner.py", line 88, in run_job\n'
                      f'    result = declaration.func(payload, ctx)\n{error[0]}: {error[1]}')
                if status != "dead" or not last:
                    retry_delay = round(2 ** number * rng.uniform(1, 2), 3)
            attempts.append((job_id, number, queue, worker, cid, start,
                             None if outcome == "running" else end, outcome,
                             error[0] if outcome == "failed" else "", error[1] if outcome == "failed" else "", tb,
                             retry_delay))
            at = end
        final = {"succeeded": "succeeded_at", "dead": "dead_at", "canceled": "canceled_at", "retrying": "retrying_at"}
        stamps = {final[status]: at} if status in final and tries else {}
        if status == "canceled" and not tries:
            stamps = {"canceled_at": created + timedelta(seconds=rng.uniform(1, 60))}
        changed = next(iter(stamps.values()), None) or started_at or queued_at or created
        result = (json.dumps({"file": f"exports/{job_id.hex}.csv", "rows": rng.randint(1, 50000)})
                  if domain == "exports" else '{"ok": true}') if status == "succeeded" else None
        progress = 100 if status == "succeeded" else rng.randint(0, 99) if status == "running" else 0
        records.append((
            job_id, job_type, queue, priority, f'{{"guild_id": {guild or 0}, "item": {i}}}', status, tries,
            max_attempts, at + timedelta(seconds=retry_delay) if status == "retrying" else None, cid, actor, guild,
            None, progress, "done" if progress == 100 else f"step {progress // 10}" if progress else "", result,
            error[0], error[1], worker, status == "canceled", created, queued_at, started_at,
            stamps.get("retrying_at"), stamps.get("succeeded_at"), stamps.get("dead_at"),
            stamps.get("canceled_at"), changed))
        if i % 10 == 0:
            data = {"job_type": job_type, "reason": ""}
            for action, when, old, new in (("job.enqueued", created, None, "queued"),
                                           ("job.running", started_at or created, "queued", "running"),
                                           (f"job.{status}", changed, "running", status)):
                audits.append((when, actor, action, "job", str(job_id), guild, cid,
                               json.dumps({**data, "from": old, "to": new})))
    return records, attempts, audits


def seed_ledger(n, seed):
    from django.conf import settings
    from django.contrib.auth.models import User

    from project.models import Guild

    rng = random.Random(seed)
    with raw_connection() as conn:
        conn.execute("TRUNCATE jobs_jobattempt, jobs_jobrecord, audit_auditevent, project_guild "
                     "RESTART IDENTITY CASCADE")
        for table, columns in TABLES:
            check_columns(conn, table, columns)
    Guild.objects.bulk_create([Guild(name=f"Guild {g}", slug=f"guild-{g}") for g in range(1, 201)])
    actors = [User.objects.get_or_create(username=f"bench-actor-{a}", defaults={"is_staff": True})[0].pk
              for a in range(1, 6)]
    guilds = list(Guild.objects.order_by("pk").values_list("pk", flat=True))
    weights, total = [], 0.0
    for rank in range(1, len(guilds) + 1):  # a few busy guilds, a long tail of quiet ones
        total += 1 / rank ** 0.8
        weights.append(total)
    world = {"now": datetime.now(timezone.utc), "namespace": settings.QUEUE_NAMESPACE, "guilds": guilds,
             "guild_weights": weights, "actors": actors}
    counts = [0, 0, 0]
    with raw_connection() as conn, conn.cursor() as cursor:
        # The audit events are seeded beside the jobs: the audit trigger on the ledger stays out of it.
        conn.execute("SET session_replication_role = replica")
        for first in range(0, n, 50_000):
            rows = job_rows(first, min(50_000, n - first), n, world, rng)
            for k, (table, columns) in enumerate(TABLES):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows[k]:
                        copy.write_row(row)
                counts[k] += len(rows[k])
            conn.commit()
            print(f"  {first + len(rows[0]):,} jobs", end="\r", flush=True)
    with raw_connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE jobs_jobrecord, jobs_jobattempt, audit_auditevent, project_guild")
        conn.execute("CHECKPOINT")  # write the seeded pages out now, not while pages are being timed
    return counts


def seed_failed_rq_jobs(count):
    """``count`` jobs in the failed registry of one queue, as a failing bare-RQ worker leaves them."""
    from rq import Queue
    from rq.job import Job, JobStatus
    from rq.registry import FailedJobRegistry
    from rq.serializers import JSONSerializer

    from jobs.connection import queue_name, redis_connection

    conn = redis_connection()
    queue = Queue(queue_name(FAILED_DOMAIN), connection=conn, serializer=JSONSerializer)
    registry, pipe = FailedJobRegistry(queue=queue), conn.pipeline()
    now = datetime.now(timezone.utc)
    for i in range(count):
        job = Job.create("bench.admin_scale.fail", args=(i,), connection=conn, serializer=JSONSerializer,
                         origin=queue.name, description=f"bench.admin_scale.fail({i})", timeout=180)
        job.enqueued_at = now - timedelta(seconds=count - i + 2)
        job.started_at = job.enqueued_at + timedelta(milliseconds=10)
        job.ended_at = job.started_at + timedelta(milliseconds=40)
        job.set_status(JobStatus.FAILED, pipeline=pipe)
        exc = f"Traceback (most recent call last):\n  ...\nRuntimeError: webhook {i} answered 503"
        registry.add(job, exc_string=exc, pipeline=pipe)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return queue.name, registry.count


# --- measuring ----------------------------------------------------------------------------------------


def operator_user():
    from django.contrib.auth.models import Permission, User

    user, _ = User.objects.get_or_create(username="operator", defaults={"is_staff": True})
    user.is_staff, user.is_superuser = True, False
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="jobs"))
    return user


def pages(client, failed_queue):
    """(label, url, kind): kind is "jobdesk", "optional" (a jobdesk page that may not exist yet) or "rq"."""
    from django.db.models import Count
    from django_rq.settings import get_queues_list

    from jobs.models import JobRecord

    base = "/admin/jobs/jobrecord/"
    middle = JobRecord.objects.order_by("-created_at")[JobRecord.objects.count() // 2]
    window = (middle.created_at - timedelta(hours=6), middle.created_at)
    shared = (JobRecord.objects.filter(created_at__range=window).values("correlation_id")
              .annotate(n=Count("id")).filter(n__gt=1).order_by("-n")[:1])
    cid = shared[0]["correlation_id"] if shared else middle.correlation_id
    dead = JobRecord.objects.filter(status="dead").order_by("-attempts", "-created_at").first() or middle
    rq_index = [q["name"] for q in get_queues_list()].index(failed_queue)
    paginator = client.get(base).context_data["cl"].paginator
    print(f"changelist: {paginator.per_page} rows a page, {paginator.num_pages:,} pages reachable")
    result = [
        ("changelist", base, "jobdesk"),
        ("status=dead", f"{base}?status__exact=dead", "jobdesk"),
        ("search correlation ID", f"{base}?q={cid}", "jobdesk"),
        ("search job id", f"{base}?q={middle.pk}", "jobdesk"),
        ("deep page ?p=500", f"{base}?p=500", "jobdesk"),
    ]
    if paginator.num_pages < 500:  # the admin caps its page count: time the deepest page it serves too
        result.append((f"last page ?p={paginator.num_pages}", f"{base}?p={paginator.num_pages}", "jobdesk"))
    return result + [
        (f"job page ({dead.attempts} attempts)", f"{base}{dead.pk}/change/", "jobdesk"),
        ("queues page", f"{base}queues/", "optional"),
        ("dead letters", f"{base}dead-letters/", "optional"),
        ("django-rq failed registry", f"/admin/django-rq/queues/{rq_index}/failed/", "rq"),
    ]


def measure(client, url, repeat):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    if response.status_code in (301, 302, 404):  # not timed: a missing page, or a redirect elsewhere
        return {"status": response.status_code, "missing": True, "location": response.get("Location", "")}
    client.get(url)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    durations = []  # CaptureQueriesContext keeps whole milliseconds only: time each query here too

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            durations.append((time.perf_counter() - start) * 1000)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(timed):
        client.get(url)
    slow_ms, slow_sql = max(zip(durations, (q["sql"] for q in captured.captured_queries)), default=(0, ""))
    return {"status": response.status_code, "missing": False, "p50": percentile(times, 0.5),
            "p95": percentile(times, 0.95), "queries": len(captured.captured_queries),
            "sql_ms": sum(durations), "slow_ms": slow_ms, "slow_sql": slow_sql}


def explain(sql_text, lines=14):
    if not sql_text.lstrip().upper().startswith("SELECT"):
        return "  (not a SELECT: not explained)"
    with raw_connection() as conn:
        plan = [row[0] for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql_text)]
    more = f"\n    ... ({len(plan) - lines} more lines)" if len(plan) > lines else ""
    return "\n".join("    " + line for line in plan[:lines]) + more


def report(results, rows, failed):
    rq_p50 = next((r["p50"] for label, r, kind in results if kind == "rq" and not r["missing"]), None)
    print(f"\n{'page':30} {'HTTP':>4} {'p50 ms':>7} {'p95 ms':>7} {'queries':>7} {'SQL ms':>7} {'slowest':>7}   goal")
    misses = []
    for label, r, kind in results:
        if r["missing"]:
            why = "missing" if kind == "optional" else f"not timed, redirects to {r['location']}"
            print(f"{label:30} {r['status']:>4}  {why} ({r['status']})")
            continue
        goal = ""
        if kind != "rq":
            why = [w for w, bad in ((f"p50 >= {P50_GOAL_MS}", r["p50"] >= P50_GOAL_MS),
                                    (f"p95 >= {P95_GOAL_MS}", r["p95"] >= P95_GOAL_MS),
                                    ("slower than django-rq", rq_p50 is not None and r["p50"] >= rq_p50),
                                    (f"HTTP {r['status']}", r["status"] != 200)) if bad]
            goal = "MISSED: " + ", ".join(why) if why else "ok"
            misses += [(label, r)] if why else []
        print(f"{label:30} {r['status']:>4} {r['p50']:7.1f} {r['p95']:7.1f} {r['queries']:>7} {r['sql_ms']:7.1f} "
              f"{r['slow_ms']:7.1f}   {goal}")
    print(f"\ngoals: jobdesk pages p50 < {P50_GOAL_MS} ms and p95 < {P95_GOAL_MS} ms at {rows:,} rows, and a p50 below "
          f"django-rq's failed page at {failed:,} failed jobs\n(SQL ms: all queries of one request; slowest: its "
          f"slowest query)\n\nslowest query of each page:")
    for label, r, _ in results:
        if not r["missing"]:
            short = re.sub(r"^SELECT (.{100,}?) FROM ", "SELECT … FROM ", r["slow_sql"])
            print(f"  {label} ({r['slow_ms']:.1f} ms): {short[:500]}")
    for label, r in misses:
        print(f"\nEXPLAIN ANALYZE, slowest query of '{label}' ({r['slow_ms']:.1f} ms in the page):")
        print(explain(r["slow_sql"]))


def main():
    args = parse_args()
    setup(args)
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client

    from jobs.connection import redis_connection
    from jobs.models import JobAttempt, JobRecord

    print(f"admin bench: database {args.database}, Redis {os.environ['REDIS_URL']}, "
          f"namespace {settings.QUEUE_NAMESPACE}, {args.rows:,} rows, {args.failed:,} failed RQ jobs")
    redis_connection().flushdb()
    if args.reuse and JobRecord.objects.count() == args.rows:
        print("ledger: reused (already holds that many rows)")
    else:
        start = time.perf_counter()
        records, attempts, audits = seed_ledger(args.rows, args.seed)
        print(f"\rledger: {records:,} jobs, {attempts:,} attempts, {audits:,} audit events seeded by COPY "
              f"in {time.perf_counter() - start:.1f} s (VACUUM ANALYZE included)")
    start = time.perf_counter()
    failed_queue, failed = seed_failed_rq_jobs(args.failed)
    print(f"RQ: {failed:,} failed jobs in {failed_queue} in {time.perf_counter() - start:.1f} s")
    statuses = JobRecord.objects.values_list("status").annotate(n=Count("id")).order_by("-n")
    print(", ".join(f"{status} {n:,}" for status, n in statuses) + f"; {JobAttempt.objects.count():,} attempts")

    client = Client(raise_request_exception=False)
    client.force_login(operator_user())
    results = []
    for label, url, kind in pages(client, failed_queue):
        print(f"timing {label}: {url}", flush=True)
        results.append((label, measure(client, url, args.repeat), kind))
    report(results, args.rows, failed)
    redis_connection().flushdb()


if __name__ == "__main__":
    main()
