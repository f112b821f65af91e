"""A viewer sees jobs and queues but cannot act on them: the controls are not shown, and a forged POST
made with the viewer's own session and CSRF token changes nothing."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs import queues
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.browser.conftest import CHANGELIST, QUEUES, VIEWERS, log_in, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def csrf_cookie(page, live_server):
    return next(c["value"] for c in page.context.cookies(live_server.url) if c["name"] == "csrftoken")


def test_viewer_sees_no_retry_and_a_forged_retry_leaves_the_job_dead(page, live_server):
    record = enqueue("test.sleep", {"marker": "dead", "seconds": 0})
    JobRecord.objects.filter(pk=record.pk).update(status=Status.DEAD, attempts=1, dead_at=timezone.now())
    log_in(page, live_server, make_staff("vera", VIEWERS))

    page.goto(live_server.url + CHANGELIST + "?status__exact=dead")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator(f'#result_list span[title="{record.pk}"]')).to_have_count(1)  # short id, full on hover
    expect(page.locator("select[name=action] option", has_text="Retry selected jobs")).to_have_count(0)
    expect(page.locator("select[name=action] option", has_text="Cancel selected jobs")).to_have_count(0)
    expect(page.get_by_role("link", name="Act on every matching job…")).to_have_count(0)

    # What the operator's browser would send on "Retry selected jobs", with the viewer's session and the
    # CSRF token of the page the viewer is on.
    token = page.locator("#changelist-form input[name=csrfmiddlewaretoken]").input_value()
    forged = page.request.post(live_server.url + CHANGELIST + "?status__exact=dead", form={
        "csrfmiddlewaretoken": token, "action": "retry_selected", "_selected_action": str(record.pk), "index": "0",
    })
    assert forged.status == 200 and "CSRF" not in forged.text(), "the request itself was accepted"
    assert "retried" not in forged.text()
    record.refresh_from_db()
    assert record.status == Status.DEAD and record.attempts == 1


def test_viewer_cannot_pause_a_queue(page, live_server):
    log_in(page, live_server, make_staff("victor", VIEWERS))

    page.goto(live_server.url + QUEUES)
    expect(page.locator('[id="queue-jdtest.default"] td.state')).to_have_text("running")
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)

    forged = page.request.post(live_server.url + QUEUES, form={
        "csrfmiddlewaretoken": csrf_cookie(page, live_server), "queue": "jdtest.default", "action": "pause",
    })
    assert forged.status == 403
    assert "CSRF" not in forged.text(), "refused for want of the permission, not for the CSRF token"
    assert "jdtest.default" not in queues.paused_queue_names()
    page.reload()
    expect(page.locator('[id="queue-jdtest.default"] td.state')).to_have_text("running")
