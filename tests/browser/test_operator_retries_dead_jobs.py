"""An operator retries dead jobs from the admin: one selected job, then a whole dead-letter group."""

import re

import pytest
from playwright.sync_api import expect

from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from tests.browser.conftest import ARTIFACTS, CHANGELIST, DEAD_LETTERS, OPERATORS, log_in, make_staff, reload_until
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def dead_flaky_jobs(start_worker, markers):
    """``test.flaky`` jobs that die on their only attempt and succeed when retried (their second attempt
    passes); a worker is started to run them and is left running."""
    records = [enqueue("test.flaky", {"marker": marker, "fail_times": 1}) for marker in markers]
    JobRecord.objects.filter(pk__in=[r.pk for r in records]).update(max_attempts=1)
    start_worker()
    ids = [r.pk for r in records]
    wait_for(lambda: JobRecord.objects.filter(pk__in=ids, status=Status.DEAD).count() == len(ids), timeout=30,
             message="the jobs to be dead")
    return records


def status_on_job_page(page):
    return page.locator(".field-status_badge .job-status").inner_text()


def test_operator_retries_one_selected_dead_job(page, live_server, start_worker):
    done = enqueue("test.flaky", {"marker": "fine", "fail_times": 0})
    chosen, other = dead_flaky_jobs(start_worker, ["chosen", "other"])
    wait_for(lambda: JobRecord.objects.filter(pk=done.pk, status=Status.SUCCEEDED).exists(), timeout=30,
             message="the succeeded job")
    log_in(page, live_server, make_staff("olga", OPERATORS))

    page.goto(live_server.url + CHANGELIST)
    page.locator("#changelist-filter").get_by_role("link", name="Dead", exact=True).click()
    expect(page).to_have_url(re.compile(r"status__exact=dead"))
    shown = page.locator("#result_list input.action-select")
    expect(shown).to_have_count(2)
    expect(page.locator(f'#result_list input.action-select[value="{done.pk}"]')).to_have_count(0)

    page.check(f'#result_list input.action-select[value="{chosen.pk}"]')
    page.select_option("select[name=action]", label="Retry selected jobs")
    page.get_by_role("button", name="Go").click()

    expect(page.locator("ul.messagelist")).to_contain_text("1 retried.")
    page.goto(f"{live_server.url}{CHANGELIST}{chosen.pk}/change/")
    reload_until(page, lambda p: status_on_job_page(p) == "Succeeded", message="the retried job to succeed")
    expect(page.locator(".field-attempts .readonly")).to_have_text("2")
    assert JobRecord.objects.get(pk=other.pk).status == Status.DEAD, "the job not selected is left dead"
    ARTIFACTS.mkdir(exist_ok=True)  # the job page README shows: failed, retried by staff, succeeded
    page.screenshot(path=str(ARTIFACTS / "job-page.png"), full_page=True)


def test_operator_retries_a_dead_letter_group(page, live_server, start_worker):
    records = dead_flaky_jobs(start_worker, ["group-1", "group-2", "group-3"])
    ids = [r.pk for r in records]
    log_in(page, live_server, make_staff("omar", OPERATORS))

    page.goto(live_server.url + DEAD_LETTERS)
    group = page.locator("#dead-letters tbody tr", has_text="test.flaky")
    expect(group).to_have_count(1)
    expect(group).to_contain_text("ConnectionError")
    group.get_by_role("link", name="Retry this group: all 3 dead of this type and error…").click()

    expect(page.locator("#bulk-count")).to_have_text("3 jobs match.")
    expect(page.locator("#content form button")).to_have_text(["Retry 3 jobs"])  # only the action asked for
    page.get_by_role("button", name="Retry 3 jobs").click()

    # The retry runs as a jobs.bulk_action job, and the operator lands on its page.
    expect(page).to_have_url(re.compile(r"/admin/jobs/jobrecord/[0-9a-f-]{36}/change/$"))
    bulk = JobRecord.objects.get(pk=page.url.rstrip("/").split("/")[-2])
    assert bulk.job_type == "jobs.bulk_action"
    expect(page.locator("ul.messagelist")).to_contain_text(f"The retry of every matching job runs as job {bulk.pk}")

    wait_for(lambda: JobRecord.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == len(ids), timeout=30,
             message="every job of the group to succeed")
    reload_until(page, lambda p: p.locator("#rq-state progress").get_attribute("value") == "100",
                 message="the bulk job's progress to reach 100")
    reload_until(page, lambda p: status_on_job_page(p) == "Succeeded", message="the bulk job to succeed")
    expect(page.locator(".field-result_pretty")).to_contain_text('"acted": 3')
    expect(page.locator(".field-progress_message")).to_contain_text("3 of 3")
