"""Browser tests of the admin: Playwright drives Debian's chromium against pytest-django's live server.

Each test logs in through the real login form, clicks what a staff member clicks, and checks the outcome
both on the page and in the ledger; real ``manage.py rqworker`` processes (``start_worker``) run the jobs.
Tests use ``django_db(transaction=True)``, so the live server and the workers see the test's data.

On a failed test, a full-page screenshot is saved to ``test-artifacts/`` at the repository root.
"""

import os
import re
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread, and Django then refuses every ORM call made
# from it (SynchronousOnlyOperation). The test thread never runs async code itself (NOTES.md item 8).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

from django.test.testcases import LiveServerThread  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from pytest_django.live_server_helper import LiveServer  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]

CHANGELIST = "/admin/jobs/jobrecord/"
QUEUES = "/admin/jobs/jobrecord/queues/"
DEAD_LETTERS = "/admin/jobs/jobrecord/dead-letters/"

from tests.conftest import OPERATORS, VIEWERS, make_staff  # noqa: E402,F401  (used by the browser tests)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (``item.report_call``), for the ``page`` fixture."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def live_server():
    """pytest-django's live server, but serving static files as a deployment does (WhiteNoise, from the
    collected, hashed files): its stock handler looks for them with the finders, which know no hashed
    names, so the admin would load without its CSS and JavaScript."""
    server = LiveServer("localhost", start=False)
    server.thread = LiveServerThread("localhost", static_handler=lambda handler: handler, connections_override={})
    server.thread.daemon = True
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def browser():
    """One chromium for all the browser tests. Package-scoped, not session-scoped: while Playwright's
    sync API is started, its event loop counts as running in this thread, so ``asyncio.run`` and
    ``async_to_sync`` would fail in every test after these (and the ORM would refuse to run)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _failed(request):
    report = getattr(request.node, "report_call", None)
    return report is not None and report.failed


def _artifact(request, suffix):
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid) + suffix)


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookies) per test; a full-page screenshot if the test failed."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    if _failed(request):
        try:
            page.screenshot(path=str(_artifact(request, ".png")), full_page=True)
        except Exception as exc:  # the page may be gone; the test's own failure is what matters
            print(f"could not save a screenshot: {exc}")
    context.close()


@pytest.fixture
def start_worker(start_worker, request):
    """``tests.conftest.start_worker``; if the test failed, the workers' logs go beside the screenshot."""
    started = []

    def start(*queues, **kwargs):
        worker = start_worker(*queues, **kwargs)
        started.append(worker)
        return worker

    yield start
    if _failed(request):
        for number, worker in enumerate(started):
            if worker.log_path:
                _artifact(request, f".worker-{number}.log").write_text(worker.output())


def log_in(page: Page, live_server, user):
    """Log in through the admin's own login form (passwords are ``pw-<username>-1``)."""
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}-1")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    assert page.locator("#user-tools").is_visible()


def reload_until(page: Page, check, timeout=30.0, message="the page to change"):
    """Reload ``page`` until ``check(page)`` is truthy, as a staff member waiting on a job would."""
    deadline = time.monotonic() + timeout
    while True:
        if check(page):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.5)
        page.reload()
