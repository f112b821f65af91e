"""The job list fits a 1366-px screen with every column shown: short ids (the full one on hover, and
search takes it), compact times; the error-type filter is in the sidebar, listing dead jobs' errors."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project import correlation
from project.models import Guild
from tests.browser.conftest import CHANGELIST, OPERATORS, log_in, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_job_list_fits_1366_pixels_and_filters_by_error_type(page, live_server):
    operator = make_staff("olivia-on-call", OPERATORS)
    guild = Guild.objects.create(name="A guild with a rather long name", slug="a-guild-with-a-rather-long-name")
    with correlation.bind("cid-0123456789abcdef0123456789abcdef"):
        jobs = [enqueue("test.always_fails", {"marker": f"m{i}"}, guild=guild, actor=operator) for i in range(3)]
    JobRecord.objects.filter(pk=jobs[0].pk).update(status=Status.DEAD, attempts=3, dead_at=timezone.now(),
                                                   last_error_type="notifications.errors.DeliveryRefused")
    JobRecord.objects.filter(pk=jobs[1].pk).update(status=Status.DEAD, attempts=3, dead_at=timezone.now(),
                                                   last_error_type="ValueError")

    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, live_server, operator)
    page.goto(live_server.url + CHANGELIST)
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
    # The admin scrolls a wide table inside its own box (.results): no column may hide there either.
    hidden = page.evaluate("(() => { const box = document.querySelector('#changelist .results');"
                           " return box.scrollWidth - box.clientWidth; })()")
    assert hidden <= 0, f"{hidden} px of the list are scrolled out of sight"
    headers = page.locator("#result_list thead th").all_inner_texts()
    for column in ("ID", "JOB TYPE", "QUEUE", "STATUS", "ATTEMPTS", "GUILD", "ACTOR", "CORRELATION ID", "CREATED",
                   "DURATION"):
        assert any(column in header.upper() for header in headers), column
    short = page.locator(f'#result_list span[title="{jobs[2].pk}"]')
    expect(short).to_have_text(str(jobs[2].pk)[:8] + "…")

    page.fill("#searchbar", str(jobs[2].pk))
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.goto(live_server.url + CHANGELIST)
    sidebar = page.locator("#changelist-filter")
    expect(sidebar).to_contain_text("error type")
    sidebar.get_by_role("link", name="DeliveryRefused").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text(str(jobs[0].pk)[:8])
