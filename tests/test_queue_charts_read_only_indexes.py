"""The queues page's charts stay cheap at a million jobs: the page reads the rollups in three grouped
queries over a range of their indexes and never scans the ledger; the aggregation pass reads the
ledger only through range scans of its indexes (EXPLAIN with sequential scans disabled: any index that
fits is taken, so a "Seq Scan" left in a plan means no index serves the query)."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import rollups
from tests.conftest import VIEWERS, make_staff
from tests.rollup_fixtures import stat

pytestmark = pytest.mark.django_db

QUEUES = "/admin/jobs/jobrecord/queues/"
TABLES = ("jobs_jobrecord", "jobs_jobattempt", "jobs_jobminutestat", "jobs_jobhourstat")
ROLLUPS = ('"jobs_jobminutestat"', '"jobs_jobhourstat"')


def plan(sql):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def assert_no_seq_scan(queries):
    for sql in queries:
        if any(f'"{table}"' in sql for table in TABLES):
            shown = plan(sql)
            for table in TABLES:
                assert f"Seq Scan on {table}" not in shown, f"{sql}\n{shown}"


def test_the_page_reads_the_rollup_through_its_index_and_never_the_ledger_for_charts(client):
    now = timezone.now()
    stat(now - timedelta(minutes=3), "jdtest.default", "test.flaky", succeeded=2, run=[10, 20], wait=[1, 1])
    client.force_login(make_staff("plan-viewer", VIEWERS))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(QUEUES).status_code == 200
    sqls = [q["sql"] for q in queries.captured_queries]
    on_rollup = [sql for sql in sqls if any(table in sql for table in ROLLUPS)]
    assert len(on_rollup) == 3, "the last hour per minute, the last day per hour, the day per type"
    assert_no_seq_scan(sqls)

    from jobs.staff.charts import queue_charts

    with CaptureQueriesContext(connection) as chart_queries:
        queue_charts()
    charts_sql = [q["sql"] for q in chart_queries.captured_queries]
    assert len(charts_sql) == 3 and all(any(table in sql for table in ROLLUPS) and '"jobs_jobrecord"' not in sql
                                        and '"jobs_jobattempt"' not in sql for sql in charts_sql), \
        "the charts read the rollup alone"


def test_the_aggregation_reads_the_ledger_through_its_indexes(settings):
    settings.JOBS_ROLLUP_LAG = 0
    with CaptureQueriesContext(connection) as queries:
        rollups.aggregate()
    sqls = [q["sql"] for q in queries.captured_queries]
    assert any('"jobs_jobattempt"' in sql and "succeeded_at" in sql for sql in sqls)
    assert any('"jobs_jobattempt"' in sql and "'lost'" in sql for sql in sqls)
    assert_no_seq_scan(sqls)
