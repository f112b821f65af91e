"""The audit log in the admin at 1,000,000 events: how fast staff search it, and which index answers.

Run by hand, it is not a test (``make test`` never runs it)::

    DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=testserver \\
    EXPORTS_ENCRYPTION_KEYS=test:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \\
    .venv/bin/python bench/audit_search.py [--quick] [--rows N] [--reuse] [--repeat K] [--fresh]

Isolation: its own PostgreSQL database (``--database``, default ``jobdesk_audit_bench``: created if
missing, migrated; ``--fresh`` drops it first) and Redis database (``--redis-db``, default 12; nothing is
written there).

Seeding, by PostgreSQL COPY: 200 guilds, 50 staff and guild users, then N audit events over 90 days in
time order (~25% without a guild, ~70% without an actor, 24 actions, resources of six types, one
correlation ID per ~3 events), then VACUUM ANALYZE. ``--reuse`` keeps a log that already holds N events.

Measured with ``django.test.Client`` as a "Job viewers" staff member: the audit list (first page, a deep
page), the search by correlation ID, ``actor:``, ``guild:``, a resource, a bare username, the action and
guild filters, a correlation ID's timeline, a guild's audit trail in the control panel; each GET twice
untimed, then ``--repeat`` times timed; then the list queries' EXPLAIN (ANALYZE) plan lines naming the
scan (the index used, or a Seq Scan). And the nightly rollup of one day, and retention of the oldest day.
Goal: every page p50 < 300 ms and no Seq Scan on the log.
"""

import argparse
import io
import os
import random
import re
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, percentile, raw_connection  # noqa: E402

FORBIDDEN_DATABASES = {"jobdesk", "test_jobdesk", "jobdesk_bench", "postgres"}
ACTIONS = ["job.enqueued", "job.running", "job.succeeded", "job.retrying", "job.dead", "job.queued",
           "job.canceled", "export.downloaded", "export.file_deleted", "webhook.delivered", "webhook.failed",
           "email.sent", "email.bounced", "branding.changed", "shard.called", "shard.failed", "jobs.pruned",
           "jobs.bulk_retry", "queue.paused", "queue.resumed", "audit.retention_applied", "audit.report_requested",
           "token.created", "member.joined"]
RESOURCES = ["job", "export", "webhook", "email", "branding", "guild"]
DAYS = 90


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 50,000 events, repeat 5")
    add("--rows", type=int, help="events to seed (1,000,000; quick 50,000)")
    add("--repeat", type=int, help="timed GETs per page (20; quick 5)")
    add("--reuse", action="store_true", help="skip seeding when the log already holds --rows events")
    add("--fresh", action="store_true", help="drop and re-create the bench database first")
    add("--database", default="jobdesk_audit_bench")
    add("--redis-db", type=int, default=12)
    add("--seed", type=int, default=42)
    args = parser.parse_args()
    args.rows = args.rows or (50_000 if args.quick else 1_000_000)
    args.repeat = args.repeat or (5 if args.quick else 20)
    if args.database in FORBIDDEN_DATABASES:
        parser.error(f"--database {args.database}: that database belongs to the project or its tests")
    return args


def setup(args):
    os.environ.setdefault("QUEUE_NAMESPACE", "jdauditbench")
    bench_environment(args.database, args.redis_db, ALLOWED_HOSTS="testserver")
    create_database(args.database, fresh=args.fresh)
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    logging.disable(logging.WARNING)
    call_command("migrate", verbosity=0, interactive=False)
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}).enable()


def world():
    """200 guilds and 50 users (get_or_create: a rerun reuses them)."""
    from django.contrib.auth import get_user_model

    from project.models import Guild, Membership

    guilds = [Guild.objects.get_or_create(slug=f"bench-guild-{i}", defaults={"name": f"Bench guild {i}"})[0]
              for i in range(200)]
    User = get_user_model()
    users = [User.objects.get_or_create(username=f"bench-user-{i}")[0] for i in range(50)]
    Membership.objects.get_or_create(user=users[0], guild=guilds[0], defaults={"role": "admin"})
    return guilds, users


def seed(n, guilds, users, rng):
    """N events by COPY, oldest first (as a log grows), then VACUUM ANALYZE."""
    start = datetime.now(timezone.utc) - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / n
    guild_weights = [1 / (i + 1) for i in range(len(guilds))]  # a few busy guilds, a long tail
    t0 = time.perf_counter()
    with raw_connection() as conn:
        conn.execute("TRUNCATE audit_auditevent, audit_auditrollup")
        with conn.cursor() as cursor, cursor.copy(
                "COPY audit_auditevent (created_at, actor_id, action, resource_type, resource_id, guild_id,"
                " correlation_id, data) FROM STDIN") as copy:
            cid = uuid.uuid4().hex
            for i in range(n):
                if rng.random() < 0.33:
                    cid = uuid.uuid4().hex
                guild = rng.choices(guilds, guild_weights)[0].pk if rng.random() > 0.25 else None
                actor = rng.choice(users).pk if rng.random() < 0.3 else None
                resource = rng.choice(RESOURCES)
                resource_id = str(uuid.UUID(int=rng.getrandbits(128))) if resource == "job" else str(rng.randint(1, 200_000))
                copy.write_row([start + step * i, actor, rng.choice(ACTIONS), resource, resource_id, guild, cid,
                                '{"bench": true}'])
        conn.commit()
    t1 = time.perf_counter()
    with raw_connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE audit_auditevent")
    print(f"seeded {n:,} events in {t1 - t0:.1f} s (COPY), VACUUM ANALYZE {time.perf_counter() - t1:.1f} s")


def samples(guilds, users):
    """Real values to search for: from the middle of the log."""
    from audit.models import AuditEvent

    count = AuditEvent.objects.count()
    middle = AuditEvent.objects.order_by("-created_at", "-id")[count // 2: count // 2 + 1].get()
    job = AuditEvent.objects.filter(resource_type="job", created_at__lte=middle.created_at).order_by(
        "-created_at", "-id").first()
    busy = AuditEvent.objects.filter(guild__isnull=False).order_by("-created_at").first().guild
    return {"cid": middle.correlation_id, "job": job.resource_id, "user": users[7].username, "guild": busy.slug,
            "guild_id": busy.pk, "quiet_guild": guilds[-1].slug}


def pages(s):
    return [
        ("list, first page", "/admin/audit/auditevent/"),
        ("list, page 200", "/admin/audit/auditevent/?p=200"),
        ("search correlation ID", f"/admin/audit/auditevent/?q={s['cid']}"),
        ("search actor:", f"/admin/audit/auditevent/?q=actor:{s['user']}"),
        ("search guild: (busiest)", f"/admin/audit/auditevent/?q=guild:{s['guild']}"),
        ("search guild: (quietest)", f"/admin/audit/auditevent/?q=guild:{s['quiet_guild']}"),
        ("search resource job:<id>", f"/admin/audit/auditevent/?q=job:{s['job']}"),
        ("search bare username", f"/admin/audit/auditevent/?q={s['user']}"),
        ("filter action", "/admin/audit/auditevent/?action=webhook.failed"),
        ("filter guild", f"/admin/audit/auditevent/?guild={s['guild_id']}"),
        ("filter last 7 days", "/admin/audit/auditevent/?created_at__gte=" +
         (datetime.now(timezone.utc) - timedelta(days=7)).date().isoformat()),
        ("timeline of a correlation ID", f"/admin/audit/auditevent/timeline/{s['cid']}/"),
        ("panel: guild audit trail", "/panel/bench-guild-0/audit/"),
        ("panel: guild audit trail p.50", "/panel/bench-guild-0/audit/?page=50"),
    ]


def measure(client, url, repeat):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t) * 1000)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    on_log = [q["sql"] for q in captured.captured_queries if "audit_auditevent" in q["sql"]]
    return {"p50": percentile(times, 0.5), "p95": percentile(times, 0.95), "queries": len(captured.captured_queries),
            "log_sql": on_log}


def scans(sql):
    """The scan lines of the query's plan (EXPLAIN ANALYZE): which index, or Seq Scan, and the time."""
    with raw_connection() as conn:
        plan = [row[0] for row in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)]
    found = [line.strip() for line in plan if re.search(r"Scan|Execution Time", line)]
    return [re.sub(r"\(cost=[^)]*\)\s*", "", line)[:150] for line in found]


def main():
    args = parse_args()
    setup(args)
    from django.contrib.auth.models import Group
    from django.test import Client

    from audit.models import AuditEvent
    from audit.services import audit_retention_apply, audit_rollup_day

    rng = random.Random(args.seed)
    guilds, users = world()
    have = AuditEvent.objects.count()
    if args.reuse and have >= args.rows:
        print(f"reusing {have:,} events")
    else:
        seed(args.rows, guilds, users, rng)
    s = samples(guilds, users)

    viewer = users[1]
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    viewer.groups.add(Group.objects.get(name="Job viewers"))
    staff, panel = Client(), Client()
    staff.force_login(viewer)
    panel.force_login(users[0])  # admin of bench-guild-0, the busiest

    print(f"\n{AuditEvent.objects.count():,} events; p50/p95 of {args.repeat} GETs each (ms)")
    print(f"{'page':34} {'p50':>7} {'p95':>7} {'queries':>8}")
    results = []
    for name, url in pages(s):
        result = measure(panel if url.startswith("/panel/") else staff, url, args.repeat)
        results.append((name, url, result))
        print(f"{name:34} {result['p50']:7.1f} {result['p95']:7.1f} {result['queries']:8d}")

    print("\nPlans of the queries on the log (EXPLAIN ANALYZE: scan nodes and execution time):")
    seq = 0
    for name, url, result in results:
        print(f"- {name}")
        for sql in result["log_sql"]:
            lines = scans(sql)
            seq += any("Seq Scan on audit_auditevent" in line for line in lines)
            head = re.sub(r"\s+", " ", sql)[:110]
            print(f"    {head}...")
            for line in lines:
                print(f"      {line}")

    day = (datetime.now(timezone.utc) - timedelta(days=DAYS // 2)).date()
    t = time.perf_counter()
    rolled = audit_rollup_day(day=day)
    rollup_ms = (time.perf_counter() - t) * 1000
    from django.db import transaction

    with transaction.atomic():  # rolled back: a --reuse run finds the same log
        t = time.perf_counter()
        retention = audit_retention_apply(days=DAYS - 1)
        retention_s = time.perf_counter() - t
        transaction.set_rollback(True)
    print(f"\nrollup of one day ({day}, {rolled['audit_rows']} guild/action pairs): {rollup_ms:.0f} ms")
    print(f"retention of the oldest day: {retention['deleted']:,} events deleted in {retention_s:.2f} s (rolled back)")
    print(f"\nSeq Scans on the log: {seq}; slowest p50: {max(r['p50'] for _n, _u, r in results):.1f} ms")


if __name__ == "__main__":
    main()
