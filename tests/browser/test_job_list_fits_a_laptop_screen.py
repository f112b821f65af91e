"""The job list fits a 1366-px screen with every column shown, for an operator (who has the action
checkboxes) and a viewer (who has none), with the widest rows the list draws: the longest job type and
queue, a retry scheduled ahead, a job that ran twice, a long user name. Ids and names are short (the whole
value on hover, and search takes the id), times compact; the error-type filter is in the sidebar, listing
dead jobs' errors."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.enqueue import enqueue
from jobs.models import JobAttempt, JobRecord, Status
from project import correlation
from project.models import Guild
from tests.browser.conftest import CHANGELIST, OPERATORS, VIEWERS, log_in, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

COLUMNS = ("ID", "JOB TYPE", "QUEUE", "STATUS", "ATTEMPTS", "GUILD", "ACTOR", "CORRELATION ID", "CREATED",
           "DURATION")


def _widest_rows(actor, guild):
    """Three jobs whose cells are as wide as the list draws them."""
    with correlation.bind("cid-0123456789abcdef0123456789abcdef"):
        jobs = [enqueue("test.always_fails", {"marker": f"m{i}"}, guild=guild, actor=actor) for i in range(3)]
    now = timezone.now()
    JobRecord.objects.filter(pk=jobs[0].pk).update(status=Status.DEAD, attempts=3, dead_at=now,
                                                   last_error_type="notifications.errors.DeliveryRefused")
    JobRecord.objects.filter(pk=jobs[1].pk).update(
        status=Status.RETRYING, attempts=2, max_attempts=10, run_at=now + timedelta(days=40),
        job_type="notifications.deliver_webhook", queue="jdtest.notifications.high", last_error_type="ValueError")
    JobRecord.objects.filter(pk=jobs[2].pk).update(status=Status.SUCCEEDED, attempts=2, succeeded_at=now,
                                                   started_at=now - timedelta(hours=30))
    start = now - timedelta(hours=30)
    JobAttempt.objects.create(record=jobs[2], number=1, correlation_id="c", started_at=start,
                              ended_at=start + timedelta(minutes=59), outcome="failed")
    JobAttempt.objects.create(record=jobs[2], number=2, correlation_id="c", started_at=now - timedelta(minutes=58),
                              ended_at=now, outcome="succeeded")
    return jobs


def _check_fits(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"
    # The admin scrolls a wide table inside its own box (.results): no column may hide there either.
    hidden = page.evaluate("(() => { const box = document.querySelector('#changelist .results');"
                           " return box.scrollWidth - box.clientWidth; })()")
    assert hidden <= 0, f"{hidden} px of the list are scrolled out of sight"
    headers = page.locator("#result_list thead th").all_inner_texts()
    for column in COLUMNS:
        assert any(column in header.upper() for header in headers), column
    # No header is cut (DURATION read "DURATI" when the table was squeezed).
    cut = page.evaluate("[...document.querySelectorAll('#result_list thead th')]"
                        ".filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.innerText)")
    assert not cut, f"cut headers: {cut}"


@pytest.mark.parametrize("role", [OPERATORS, VIEWERS])
def test_the_job_list_fits_1366_pixels(page, live_server, role):
    staff = make_staff("olivia-on-call-with-a-long-name" if role == OPERATORS else "victor-viewer", role)
    guild = Guild.objects.create(name="A guild with a rather long name", slug="a-guild-with-a-rather-long-name")
    jobs = _widest_rows(staff, guild)

    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, live_server, staff)
    page.goto(live_server.url + CHANGELIST)
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    expect(page.locator("#result_list input.action-select")).to_have_count(3 if role == OPERATORS else 0)
    _check_fits(page)
    short = page.locator(f'#result_list span[title="{jobs[2].pk}"]')
    expect(short).to_have_text(str(jobs[2].pk)[:8] + "…")


def test_the_job_list_is_searched_by_id_and_filtered_by_error_type(page, live_server):
    operator = make_staff("olivia-on-call", OPERATORS)
    guild = Guild.objects.create(name="A guild", slug="a-guild")
    jobs = _widest_rows(operator, guild)

    log_in(page, live_server, operator)
    page.goto(live_server.url + CHANGELIST)
    page.fill("#searchbar", str(jobs[2].pk))
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.goto(live_server.url + CHANGELIST)
    sidebar = page.locator("#changelist-filter")
    expect(sidebar).to_contain_text("error type")
    sidebar.get_by_role("link", name="DeliveryRefused").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text(str(jobs[0].pk)[:8])
