"""Staff on call watch pages that refresh themselves (htmx from our own static files): a job finishing
while its list is open changes its row without a reload, the job page follows its job, and a queue
paused elsewhere shows as paused. The job page's buttons are there for an operator and absent for a
viewer. Refreshes come every ``ADMIN_REFRESH_SECONDS`` (1 s here)."""

import pytest
from playwright.sync_api import expect

from jobs import queues
from jobs.connection import queue_name
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.browser.conftest import CHANGELIST, OPERATORS, QUEUES, VIEWERS, log_in, make_staff
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_refresh(settings):
    settings.ADMIN_REFRESH_SECONDS = 1


def mark_page(page):
    """A flag that only lives as long as this very document: gone after any reload."""
    page.evaluate("window.__notReloaded = true")


def still_the_same_page(page):
    return page.evaluate("window.__notReloaded === true")


def test_a_job_that_finishes_changes_its_row_without_a_reload(page, live_server, start_worker):
    record = enqueue("test.sleep", {"marker": "live-row", "seconds": 0})
    log_in(page, live_server, make_staff("lena", VIEWERS))
    page.goto(live_server.url + CHANGELIST)
    cell = page.locator(f'[id="job-status-{record.pk}"]')
    expect(cell).to_have_text("Queued")
    assert page.locator("script[src*='htmx']").count() == 1, "htmx is served from our static files"
    mark_page(page)

    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=record.pk, status=Status.SUCCEEDED).exists(), timeout=30,
             message="the job to succeed")
    expect(cell).to_have_text("Succeeded", timeout=15_000)
    expect(page.locator(f'[id="job-attempts-{record.pk}"]')).to_have_text(f"1/{record.max_attempts}")
    assert still_the_same_page(page), "the row changed in place, without a reload"

    newer = enqueue("test.sleep", {"marker": "newer", "seconds": 0})
    expect(page.locator("#newer-jobs")).to_contain_text("1 newer job", timeout=15_000)
    assert newer.pk and still_the_same_page(page)


def test_the_job_page_follows_its_job_until_it_ends(page, live_server, start_worker):
    record = enqueue("test.sleep", {"marker": "live-page", "seconds": 0})
    log_in(page, live_server, make_staff("luis", VIEWERS))
    page.goto(f"{live_server.url}{CHANGELIST}{record.pk}/change/")
    expect(page.locator("#job-live .ledger-status")).to_contain_text("Queued")
    expect(page.locator("#job-live .rq-status")).to_have_text("waiting in its queue")
    start_worker()
    expect(page.locator(".field-status_badge .job-status")).to_have_text("Succeeded", timeout=20_000)
    expect(page.locator("#job-live .ledger-status")).to_contain_text("Succeeded")
    expect(page.locator("#job-live[hx-trigger]")).to_have_count(0)


def test_a_queue_paused_elsewhere_shows_as_paused_without_a_reload(page, live_server):
    log_in(page, live_server, make_staff("lars", VIEWERS))
    page.goto(live_server.url + QUEUES)
    state = page.locator(f'[id="queue-{queue_name("default")}"] td.state')
    expect(state).to_have_text("running")
    mark_page(page)
    queues.queue_pause(queue_name("default"))
    expect(state).to_have_text("paused", timeout=15_000)
    assert still_the_same_page(page)


def test_an_operator_retries_from_the_job_page_and_a_viewer_has_no_buttons(page, live_server):
    record = enqueue("test.sleep", {"marker": "dead-one", "seconds": 0})
    JobRecord.objects.filter(pk=record.pk).update(status=Status.DEAD, attempts=3)

    log_in(page, live_server, make_staff("vanya", VIEWERS))
    page.goto(f"{live_server.url}{CHANGELIST}{record.pk}/change/")
    expect(page.locator("#job-live")).to_be_visible()
    expect(page.locator("#job-actions button")).to_have_count(0)
    page.context.clear_cookies()

    log_in(page, live_server, make_staff("oskar", OPERATORS))
    page.goto(f"{live_server.url}{CHANGELIST}{record.pk}/change/")
    expect(page.locator("#job-actions button")).to_have_text(["Retry…"])
    page.get_by_role("button", name="Retry…").click()
    expect(page.locator("#content")).to_contain_text("Retry this job?")
    assert JobRecord.objects.get(pk=record.pk).status == Status.DEAD
    page.get_by_role("button", name="Yes, I'm sure").click()
    expect(page.locator("ul.messagelist")).to_contain_text(f"Job {record.pk} retried.")
    assert JobRecord.objects.get(pk=record.pk).status == Status.QUEUED
    expect(page.locator("#job-actions button")).to_have_text(["Cancel job…"])
