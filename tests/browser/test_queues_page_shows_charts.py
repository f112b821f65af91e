"""A staff member on call opens the queues page and sees, per queue, the pictures of the last hour and
day (jobs succeeded and failed, run time and queue wait p50/p95) and the job types' success rates, drawn
by the server (no script, nothing fetched from elsewhere). The page is saved as a picture
(``test-artifacts/queues-page-charts.png``), the one the README shows."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs import rollups
from tests.browser.conftest import ARTIFACTS, QUEUES, VIEWERS, log_in, make_staff
from tests.rollup_fixtures import synthetic_stats

pytestmark = pytest.mark.django_db(transaction=True)

TYPES = [
    ("jdtest.default", "reports.generate", 4, 0.02, 900, 40),
    # At least 3 a minute: the daily swell falls to 0.4 in the late afternoon (UTC), and at 1 a minute the
    # exports queue then had jobs in fewer than 30 of the last hour's minutes.
    ("jdtest.exports", "exports.generate", 3, 0.05, 8000, 300),
    ("jdtest.notifications", "notifications.webhook", 6, 0.08, 120, 15),
    ("jdtest.notifications", "notifications.email", 2, 0.01, 250, 20),
]


def test_staff_see_the_queues_charts(page, live_server):
    rollups.merge(synthetic_stats(timezone.now(), days=1, types=TYPES))
    log_in(page, live_server, make_staff("vera", VIEWERS))
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(live_server.url + QUEUES)

    for queue in ("jdtest.default", "jdtest.exports", "jdtest.notifications"):
        charts = page.locator(f'[id="charts-{queue}"] svg.chart')
        expect(charts).to_have_count(4)
        for i in range(4):
            box = charts.nth(i).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100, "each chart is drawn at its size"
        assert charts.nth(0).locator("g.bar").count() > 30, "a bar for most minutes of the last hour"
        assert charts.nth(2).locator("circle").count() > 30, "run time percentiles plotted per minute"
    rows = page.locator("#job-type-stats tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator('[id="type-stats-notifications.email"] td.rate')).to_contain_text("%")
    assert page.locator('[id="type-stats-notifications.email"] svg.rate-bar').is_visible()
    assert all(url.startswith(live_server.url) for url in requests), "nothing is fetched from elsewhere"

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#queue-charts").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "queues-page-charts.png"), full_page=True)
