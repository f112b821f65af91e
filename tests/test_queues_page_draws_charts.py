"""Staff see the queues page draw, per queue, jobs succeeded and failed per minute (last hour) and per
hour (last day) and run time and queue wait p50/p95, and per job type the success rate and average run
time, as pictures made on the server from the minute rollup; people without the right see none of it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.conftest import VIEWERS, make_staff
from tests.rollup_fixtures import stat

pytestmark = pytest.mark.django_db

QUEUES = "/admin/jobs/jobrecord/queues/"


@pytest.fixture
def rollup():
    now = timezone.now()
    stat(now - timedelta(minutes=2), "jdtest.default", "test.flaky", succeeded=3, failed=2, dead=1,
         run=[100, 120, 130, 140, 2000], wait=[3, 4, 5, 6, 7])
    stat(now - timedelta(minutes=5), "jdtest.default", "test.flaky", succeeded=0, failed=0, dead=0)
    stat(now - timedelta(hours=3), "jdtest.default", "test.sleep", succeeded=6, run=[300] * 6, wait=[1] * 6)
    stat(now - timedelta(minutes=1), "jdtest.exports", "<script>alert(1)</script>", succeeded=1, run=[40], wait=[2])
    stat(now - timedelta(days=2), "jdtest.old", "test.old", succeeded=99, run=[1] * 99, wait=[1] * 99)
    return now


def test_staff_see_charts_per_queue_and_a_table_per_job_type(client, rollup):
    client.force_login(make_staff("chart-viewer", VIEWERS))
    response = client.get(QUEUES)
    assert response.status_code == 200
    html = response.content.decode()
    charts = response.context["queue_charts"]
    assert [q["name"] for q in charts["queues"]] == ["jdtest.default", "jdtest.exports"], \
        "queues with jobs ended in the last day; older rollup rows are not drawn"
    default = charts["queues"][0]
    assert (default["hour"]["succeeded"], default["hour"]["failed"], default["hour"]["dead"]) == (3, 2, 1)
    assert (default["day"]["succeeded"], default["day"]["failed"]) == (9, 2)
    assert default["hour"]["run_p50"] == "< 250 ms" and default["hour"]["run_p95"] == "< 2.5 s"
    assert default["hour"]["wait_p95"] == "< 10 ms"

    section = html[html.index('id="charts-jdtest.default"'):html.index('id="charts-jdtest.exports"')]
    assert section.count("<svg") == 4, "throughput per minute and per hour, run time and queue wait"
    assert "jdtest.default: last hour, per minute" in section and "jdtest.default: last 24 hours, per hour" in section
    assert "3 succeeded, 2 failed (1 dead)" in section, "each bar tells its counts"
    assert 'class="p95"' in html or "<circle" in section, "the percentiles are drawn"

    types = {t["job_type"]: t for t in charts["types"]}
    assert set(types) == {"test.flaky", "test.sleep", "<script>alert(1)</script>"}
    assert types["test.flaky"]["rate_label"] == "75.0%", "3 of the 4 ended jobs succeeded"
    assert types["test.flaky"]["avg_run"] == "498 ms"
    assert types["test.sleep"]["rate_label"] == "100.0%" and types["test.sleep"]["avg_run"] == "300 ms"
    assert 'id="type-stats-test.flaky"' in html and "75.0%" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html, \
        "names are escaped in the pictures and the table"


def test_an_empty_rollup_says_so_and_whether_it_was_counted_yet(client):
    """Before the scheduler's first pass the page says the charts are not counted yet, not that nothing
    finished (a newcomer read "no job finished" beside a table of jobs that had)."""
    from jobs.models import RollupMark
    from jobs.rollups import MARK

    client.force_login(make_staff("chart-viewer", VIEWERS))
    page = client.get(QUEUES).content.decode()
    assert "Not counted yet" in page and "No job finished" not in page

    RollupMark.objects.create(name=MARK, through=timezone.now(), ran_at=timezone.now())
    page = client.get(QUEUES).content.decode()
    assert "No job finished in the last 24 hours, as counted up to" in page


def test_people_without_the_right_see_no_charts(client, world, rollup):
    response = client.get(QUEUES)
    assert response.status_code == 302 and "/admin/login/" in response["Location"], "anonymous: to the login"
    client.force_login(world["admin"])  # a guild admin, not staff
    response = client.get(QUEUES)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(world["staff"])  # staff without any role
    assert client.get(QUEUES).status_code == 403
