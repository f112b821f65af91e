"""An operator pauses a queue from the queues page: a running worker leaves its jobs waiting, takes
other queues' jobs meanwhile, and runs them all once the operator resumes the queue."""

import re
import time

import pytest
from playwright.sync_api import expect

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from jobs.queues import PAUSE_POLL
from tests.browser.conftest import OPERATORS, QUEUES, log_in, make_staff
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

QUEUE = "jdtest.default"


def test_operator_pauses_and_resumes_a_queue(page, live_server, start_worker):
    start_worker()
    log_in(page, live_server, make_staff("otto", OPERATORS))
    page.goto(live_server.url + QUEUES)
    row = page.locator(f'[id="queue-{QUEUE}"]')
    expect(row.locator("td.state")).to_have_text("running")

    row.get_by_role("button", name="Pause").click()
    expect(page.locator("ul.messagelist")).to_contain_text(re.compile(rf"{re.escape(QUEUE)} paused\.", re.I))
    expect(row.locator("td.state")).to_have_text("paused")
    # Workers see a pause within PAUSE_POLL seconds (plus their 1 s cache of the paused set): a job
    # enqueued before then may still be taken.
    time.sleep(PAUSE_POLL + 1.5)

    waiting = [enqueue("test.sleep", {"marker": f"paused-{i}", "seconds": 0}) for i in range(3)]
    assert {r.queue for r in waiting} == {QUEUE}
    other = enqueue("test.sleep", {"marker": "high", "seconds": 0}, priority="high")
    assert other.queue != QUEUE
    enqueued_at = time.monotonic()
    # The worker is up and working: it runs the other queue's job...
    wait_for(lambda: JobRecord.objects.filter(pk=other.pk, status=Status.SUCCEEDED).exists(), timeout=30,
             message="the job on the queue that is not paused")
    # ...and, well past its pause poll, has not touched the paused queue's jobs.
    time.sleep(max(0.0, 4.0 - (time.monotonic() - enqueued_at)))
    ids = [r.pk for r in waiting]
    assert JobRecord.objects.filter(pk__in=ids, status=Status.QUEUED, started_at__isnull=True).count() == 3
    page.reload()
    expect(row.locator("td.waiting")).to_have_text("3")
    expect(row.locator("td.state")).to_have_text("paused")

    row.get_by_role("button", name="Resume").click()
    expect(page.locator("ul.messagelist")).to_contain_text(re.compile(rf"{re.escape(QUEUE)} resumed\.", re.I))
    expect(row.locator("td.state")).to_have_text("running")
    wait_for(lambda: JobRecord.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == 3, timeout=30,
             message="the paused queue's jobs to run after the resume")
    page.reload()
    expect(row.locator("td.waiting")).to_have_text("0")
