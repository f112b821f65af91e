"""An operator who retries a large dead-letter group lands on the bulk job's page and watches its progress
move, chunk by chunk, without reloading, until it reports what it did."""

import re
import time
import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from jobs.connection import queue_name
from jobs.models import JobRecord, Status
from tests.browser.conftest import DEAD_LETTERS, OPERATORS, log_in, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

DEAD = 1_500  # three chunks of the bulk job's 500: a few seconds of work, refreshed every second


def dead_sleep_jobs(count):
    """``count`` dead ``test.sleep`` records of one dead-letter group (same type and error)."""
    now = timezone.now()
    JobRecord.objects.bulk_create([
        JobRecord(id=uuid.uuid4(), job_type="test.sleep", queue=queue_name("default"), payload={"marker": f"m{i}", "seconds": 0},
                  status=Status.DEAD, attempts=3, max_attempts=3, correlation_id=f"bulk-live-{i}", created_at=now,
                  dead_at=now, status_changed_at=now, last_error_type="TimeoutError", last_error="the peer did not answer")
        for i in range(count)])


def not_reloaded(page):
    try:
        return page.evaluate("window.__notReloaded === true")
    except PlaywrightError:  # navigating away: this document is gone
        return False


def test_the_bulk_jobs_progress_moves_on_its_page_without_a_reload(page, live_server, settings, start_worker):
    settings.ADMIN_REFRESH_SECONDS = 1
    dead_sleep_jobs(DEAD)
    log_in(page, live_server, make_staff("otto", OPERATORS))
    page.goto(live_server.url + DEAD_LETTERS)
    page.locator("#dead-letters tbody tr", has_text="test.sleep").get_by_role(
        "link", name=re.compile(r"Retry this group")).click()
    expect(page.locator("#bulk-count")).to_have_text(f"{DEAD} jobs match.")
    page.get_by_role("button", name=f"Retry {DEAD} jobs").click()
    expect(page).to_have_url(re.compile(r"/admin/jobs/jobrecord/[0-9a-f-]{36}/change/$"))

    start_worker()
    # A change of status reloads the page (its fields and attempts follow); progress changes in place.
    expect(page.locator("#job-live")).to_have_attribute("data-status", Status.RUNNING, timeout=30_000)
    page.evaluate("window.__notReloaded = true")
    progress = page.locator("#job-live progress")
    seen_in_place, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline and not_reloaded(page):
        try:
            value = int(progress.get_attribute("value", timeout=2_000) or 0)
        except PlaywrightError:  # the reload at the end of the run has begun
            break
        if not seen_in_place or seen_in_place[-1] != value:
            seen_in_place.append(value)
        time.sleep(0.1)
    assert any(0 < value < 100 for value in seen_in_place), f"progress shown without a reload: {seen_in_place}"
    assert seen_in_place == sorted(seen_in_place), f"progress went backwards: {seen_in_place}"

    expect(page.locator("#job-live")).to_have_attribute("data-status", Status.SUCCEEDED, timeout=60_000)
    expect(page.locator("#job-live progress")).to_have_attribute("value", "100")
    expect(page.locator("#job-live")).to_contain_text(f"{DEAD} of {DEAD}")
    expect(page.locator(".field-result_pretty")).to_contain_text(f'"acted": {DEAD}')
    expect(page.locator("#job-live[hx-trigger]")).to_have_count(0)  # ended: it stops refreshing
