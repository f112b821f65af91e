"""The queues page with its charts on a full rollup: how fast it answers when ``JobMinuteStat`` holds its
whole keep (8 days) for N job types, a row for nearly every minute of each.

Run by hand, it is not a test (``make bench-charts``; ``BENCH_ARGS="--types 50"``; ``--reuse`` keeps the
seeded rollup)::

    DEBUG=false SECRET_KEY=bench-only-secret-key SECURE_SSL_REDIRECT=false ALLOWED_HOSTS=testserver \\
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/jobdesk_charts_bench REDIS_URL=redis://127.0.0.1:6379/5 \\
    .venv/bin/python bench/charts_page.py [--types N] [--days D] [--repeat K] [--reuse]

Its own PostgreSQL database (``jobdesk_charts_bench``, created and migrated) and Redis db (5, only read:
the page's queue counts). Seeding: ``tests.rollup_fixtures.synthetic_rows`` (the browser test's
generator) written by ``jobs.rollups.merge`` (minute and hour rows), N types spread over the five queue
domains, 1-6 jobs a minute each, then VACUUM ANALYZE.
Measured with ``django.test.Client`` as a logged-in superuser: the whole queues page (Redis counts,
ledger counts and the charts) and ``queue_charts()`` alone, each ``--repeat`` times after two untimed
runs, p50 and p95; and the charts' three queries (count, total time) with the plan of the slowest.
"""

import argparse
import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.common import bench_environment, create_database, percentile  # noqa: E402

DATABASE = "jobdesk_charts_bench"
DOMAINS = ("default", "exports", "branding", "audit", "notifications")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--types", type=int, default=20)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep the rollup already seeded")
    args = parser.parse_args()

    bench_environment(DATABASE, 5, ALLOWED_HOSTS="testserver", QUEUE_NAMESPACE="jdcharts")
    create_database(DATABASE)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from jobs import rollups
    from jobs.models import JobHourStat, JobMinuteStat
    from jobs.staff.charts import queue_charts
    from tests.rollup_fixtures import synthetic_stats

    call_command("migrate", verbosity=0)
    if not args.reuse or not JobMinuteStat.objects.exists():
        JobMinuteStat.objects.all().delete()
        JobHourStat.objects.all().delete()
        types = [(f"jdcharts.{DOMAINS[i % len(DOMAINS)]}", f"bench.type_{i:02d}", 1 + i % 6, 0.03 + (i % 4) / 50,
                  50 * (1 + i % 7) ** 2, 5 * (1 + i % 5)) for i in range(args.types)]
        started = time.monotonic()
        stats = synthetic_stats(timezone.now(), days=args.days, types=types)
        rollups.merge(stats)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE jobs_jobminutestat")
            cursor.execute("VACUUM ANALYZE jobs_jobhourstat")
        print(f"seeded {len(stats):,} minute rows ({args.days} days x {args.types} types) "
              f"in {time.monotonic() - started:.1f} s")
    total, hours = JobMinuteStat.objects.count(), JobHourStat.objects.count()
    size = _one("SELECT pg_size_pretty(pg_total_relation_size('jobs_jobminutestat') "
                "+ pg_total_relation_size('jobs_jobhourstat'))")

    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-charts", defaults={
        "is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)

    def page():
        response = client.get("/admin/jobs/jobrecord/queues/")
        assert response.status_code == 200, response.status_code
        return response

    page_ms = _timed(page, args.repeat)
    charts_ms = _timed(queue_charts, args.repeat)
    with CaptureQueriesContext(connection) as queries:
        queue_charts()
    chart_queries = [(float(q["time"]) * 1000, q["sql"]) for q in queries.captured_queries]
    slowest = max(chart_queries)

    print(f"rollups: {total:,} minute rows and {hours:,} hour rows, {size} with their indexes; PostgreSQL {connection.pg_version // 10000}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"queues page (whole: Redis and ledger counts, charts): p50 {percentile(page_ms, 0.5):.0f} ms, "
          f"p95 {percentile(page_ms, 0.95):.0f} ms over {args.repeat}")
    print(f"queue_charts() alone: p50 {percentile(charts_ms, 0.5):.0f} ms, p95 {percentile(charts_ms, 0.95):.0f} ms")
    print(f"chart queries: {len(chart_queries)}, {sum(t for t, _ in chart_queries):.0f} ms in all; "
          f"slowest {slowest[0]:.0f} ms:")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {slowest[1]}")
        print("\n".join("    " + row[0] for row in cursor.fetchall()[:12]))


def _one(sql):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _timed(function, repeat):
    for _ in range(2):
        function()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


if __name__ == "__main__":
    main()
