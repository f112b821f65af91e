"""The control panel looks finished on a phone (390×844) and on a desktop (1366×768): every guild page
(the guild's exports and jobs, branding, webhooks, audit trail) is styled by jobdesk's own stylesheet
(served from its static files, no CDN), carries the guild's navigation, never scrolls sideways as a whole
on a phone, and says what to do when a list is empty. On a phone the tables stack into one card per row:
a job's status and progress, an endpoint's state and its Disable/Delete buttons are on screen without
any sideways scroll, and long text (an empty list's sentence, a URL, a list of events) wraps instead of
being cut. A progress bar at 0% reads as empty (a light track), not as a full dark bar.

Screenshots of each page at both sizes are kept in ``test-artifacts/panel-look/`` (ignored by git) for a
person to look at; the assertions are what users rely on.
"""

import base64
import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from audit.services import audit_event_record
from exports import services as export_services
from jobs.models import JobRecord, Status
from notifications.models import WebhookEndpoint
from project.models import Guild, Membership
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
SHOTS = ARTIFACTS / "panel-look"
NAV = ["#nav-exports", "#nav-jobs", "#nav-branding", "#nav-webhooks", "#nav-audit", "#nav-settings"]
ADMIN_BLUE = "rgb(65, 118, 144)"  # the Django admin's header, #417690


@pytest.fixture
def busy_guild(django_user_model):
    """A guild admin whose guild has exports, jobs, a webhook with a long URL and a long audit trail."""
    guild = Guild.objects.create(name="The Long-Named Lantern Keepers of the Northern Reach", slug="lanterns",
                                 time_zone="Europe/Paris")
    user = django_user_model.objects.create_user("gina", "gina@example.com", "pw-gina-1")
    Membership.objects.create(user=user, guild=guild, role=Membership.Role.ADMIN)
    for month in (1, 2, 3):
        export_services.export_request(guild=guild, user=user, format="xlsx", start=date(2026, month, 1),
                                       end=date(2026, month, 28), metrics=["messages", "voice_minutes"])
    WebhookEndpoint.objects.create(
        guild=guild, secret="s" * 40, events=["export.ready", "branding.applied"], created_by=user,
        url="https://hooks.example.com/services/T000000000/B000000000/a-very-long-webhook-path-that-never-breaks")
    for number in range(12):
        audit_event_record(action="branding.saved", resource_type="branding", resource_id=number, actor=user,
                           guild=guild, correlation_id=f"{number:032x}")
    first_job = JobRecord.objects.filter(guild=guild).order_by("created_at").first()
    JobRecord.objects.filter(pk=first_job.pk).update(status=Status.DEAD, progress=0)  # dead at 0%
    return user, guild


@pytest.fixture
def quiet_guild(django_user_model):
    guild = Guild.objects.create(name="Quiet", slug="quiet")
    user = django_user_model.objects.create_user("quinn", "quinn@example.com", "pw-quinn-1")
    Membership.objects.create(user=user, guild=guild, role=Membership.Role.OWNER)
    return user, guild


def pages_of(guild):
    return {
        "guild": (f"/panel/{guild.slug}/", "#nav-exports"),
        "branding": (f"/panel/{guild.slug}/branding/", "#nav-branding"),
        "webhooks": (f"/panel/{guild.slug}/webhooks/", "#nav-webhooks"),
        "audit": (f"/panel/{guild.slug}/audit/", "#nav-audit"),
        "settings": (f"/panel/{guild.slug}/settings/", "#nav-settings"),
    }


def logged_in(browser, live_server, user, viewport) -> Page:
    context = browser.new_context(viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}-1")
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(re.compile(r"/panel/$"))
    return page


def no_sideways_scroll(page: Page):
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths[0]} px of content in {widths[1]} px"


def own_static_files_only(page: Page, live_server):
    urls = page.evaluate("""() => [...document.querySelectorAll('link[rel=stylesheet], script[src]')]
                             .map(el => el.href || el.src)""")
    assert urls, "the page has a stylesheet"
    for url in urls:
        assert url.startswith(live_server.url + "/static/"), f"{url} is not one of jobdesk's static files"


@pytest.mark.parametrize("size, viewport", [("phone", PHONE), ("desktop", DESKTOP)])
def test_every_guild_page_is_styled_navigable_and_fits(browser, live_server, busy_guild, size, viewport):
    user, guild = busy_guild
    page = logged_in(browser, live_server, user, viewport)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{size}-guilds.png"), full_page=True)
    try:
        for name, (path, current) in pages_of(guild).items():
            page.goto(live_server.url + path)
            expect(page.locator("header.site")).to_have_css("background-color", ADMIN_BLUE)
            own_static_files_only(page, live_server)
            for link in NAV:
                expect(page.locator(link)).to_be_visible()
            expect(page.locator(current)).to_have_attribute("aria-current", "page")
            no_sideways_scroll(page)
            page.screenshot(path=str(SHOTS / f"{size}-{name}.png"), full_page=True)

        # the navigation leads from page to page
        page.goto(live_server.url + f"/panel/{guild.slug}/")
        page.click("#nav-webhooks")
        page.wait_for_url(re.compile(r"/webhooks/$"))
        expect(page.locator("#endpoints")).to_contain_text("hooks.example.com")
        page.click("#nav-audit")
        page.wait_for_url(re.compile(r"/audit/$"))
        expect(page.locator("#audit-trail tr.event[data-action=\"branding.saved\"]")).to_have_count(12)
        page.click("#nav-branding")
        page.wait_for_url(re.compile(r"/branding/$"))
        page.click("#nav-exports")
        page.wait_for_url(re.compile(rf"/panel/{guild.slug}/"))
        expect(page.locator("#exports tbody tr")).to_have_count(3)
        if size == "phone":
            # the wide tables scroll inside their own box, which fits the screen
            boxes = page.evaluate("""() => [...document.querySelectorAll('.scroll')]
                                      .map(el => el.getBoundingClientRect().right)""")
            assert boxes and max(boxes) <= PHONE["width"], boxes
    finally:
        page.context.close()


def test_empty_lists_say_what_to_do(browser, live_server, quiet_guild):
    user, guild = quiet_guild
    page = logged_in(browser, live_server, user, PHONE)
    try:
        page.goto(live_server.url + f"/panel/{guild.slug}/")
        expect(page.locator("#exports .empty")).to_contain_text("No exports yet. Ask for one with the form above")
        expect(page.locator("#jobs .empty")).to_contain_text("No jobs yet.")
        page.click("#nav-webhooks")
        expect(page.locator("#endpoints .empty")).to_contain_text("No endpoints yet. Add one with the form above")
        expect(page.locator("#deliveries .empty")).to_contain_text("No deliveries yet.")
        page.click("#nav-audit")
        expect(page.locator("#audit-trail .empty")).to_contain_text("Nothing recorded yet.")
        page.click("#nav-branding")
        expect(page.locator("#no-fan-out")).to_contain_text("Nothing saved yet.")
        no_sideways_scroll(page)
        page.screenshot(path=str(SHOTS / "phone-empty-branding.png"), full_page=True)
    finally:
        page.context.close()


def test_a_member_sees_only_the_pages_they_may_open(browser, live_server, busy_guild, django_user_model):
    _, guild = busy_guild
    member = django_user_model.objects.create_user("milo", "milo@example.com", "pw-milo-1")
    Membership.objects.create(user=member, guild=guild, role=Membership.Role.MEMBER)
    page = logged_in(browser, live_server, member, PHONE)
    try:
        page.goto(live_server.url + f"/panel/{guild.slug}/")
        for link in ("#nav-exports", "#nav-jobs", "#nav-branding"):
            expect(page.locator(link)).to_be_visible()
        expect(page.locator("#nav-webhooks")).to_have_count(0)
        expect(page.locator("#nav-audit")).to_have_count(0)
        expect(page.locator("#nav-settings")).to_have_count(0)
        expect(page.locator("#exports .empty")).to_have_count(0)
        assert page.goto(live_server.url + f"/panel/{guild.slug}/audit/").status == 403
    finally:
        page.context.close()


def outside_the_screen(page: Page, selector):
    """The elements matching ``selector`` that stick out of the viewport sideways, or whose text is cut
    (wider inside than their box): what a person would have to scroll sideways to read."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].flatMap(el => {
        const box = el.getBoundingClientRect();
        const out = box.left < 0 || box.right > window.innerWidth || el.scrollWidth > el.clientWidth + 1;
        const what = (el.textContent || el.tagName).trim().slice(0, 60);
        return out ? [`${selector}: ${what} (${box.left}-${box.right})`] : [];
    })""", selector)


def test_on_a_phone_statuses_and_actions_are_on_screen_and_text_wraps(browser, live_server, busy_guild):
    user, guild = busy_guild
    page = logged_in(browser, live_server, user, PHONE)
    try:
        page.goto(live_server.url + f"/panel/{guild.slug}/")
        expect(page.locator("#jobs tr.job")).to_have_count(3)
        for selector in ("#jobs tr.job .status", "#jobs tr.job progress", "#jobs tr.job .percent",
                         "#exports tbody .status", "#exports tbody td"):
            assert page.locator(selector).count(), selector
            assert not outside_the_screen(page, selector), outside_the_screen(page, selector)

        page.goto(live_server.url + f"/panel/{guild.slug}/webhooks/")
        row = page.locator("#endpoints tbody tr").first
        expect(row.locator(".state")).to_contain_text("Enabled")
        expect(row.get_by_role("button", name="Disable")).to_be_visible()
        for selector in ("#endpoints .state", "#endpoints button", "#endpoints td"):
            assert not outside_the_screen(page, selector), outside_the_screen(page, selector)
        events = row.locator("td[data-label=events]")
        expect(events).to_contain_text("export.ready, branding.applied")

        page.goto(live_server.url + f"/panel/{guild.slug}/audit/")
        assert not outside_the_screen(page, "#audit-trail td"), outside_the_screen(page, "#audit-trail td")

        # no table box scrolls sideways on any guild page: nothing is hidden to the right
        for path, _ in pages_of(guild).values():
            page.goto(live_server.url + path)
            assert not outside_the_screen(page, ".scroll"), (path, outside_the_screen(page, ".scroll"))
    finally:
        page.context.close()


def test_an_empty_lists_sentence_wraps_on_a_phone(browser, live_server, quiet_guild):
    user, guild = quiet_guild
    page = logged_in(browser, live_server, user, PHONE)
    try:
        page.goto(live_server.url + f"/panel/{guild.slug}/")
        for selector in ("#exports .empty", "#jobs .empty", ".scroll"):
            assert not outside_the_screen(page, selector), outside_the_screen(page, selector)
        page.goto(live_server.url + f"/panel/{guild.slug}/webhooks/")
        for selector in ("#endpoints .empty", "#deliveries .empty", ".scroll"):
            assert not outside_the_screen(page, selector), outside_the_screen(page, selector)
    finally:
        page.context.close()


def mean_lightness(context, png: bytes) -> float:
    """The mean lightness (0 black - 255 white) of a screenshot, decoded by the browser itself."""
    blank = context.new_page()
    try:
        return blank.evaluate("""async (data) => {
            const img = new Image();
            img.src = "data:image/png;base64," + data;
            await img.decode();
            const canvas = document.createElement("canvas");
            canvas.width = img.width; canvas.height = img.height;
            const ctx = canvas.getContext("2d");
            ctx.drawImage(img, 0, 0);
            const px = ctx.getImageData(0, 0, img.width, img.height).data;
            let sum = 0;
            for (let i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
            return sum / (px.length / 4);
        }""", base64.b64encode(png).decode())
    finally:
        blank.close()


@pytest.mark.parametrize("size, viewport", [("phone", PHONE), ("desktop", DESKTOP)])
def test_a_progress_bar_at_zero_looks_empty(browser, live_server, busy_guild, size, viewport):
    user, guild = busy_guild
    dead = JobRecord.objects.get(guild=guild, status=Status.DEAD)
    page = logged_in(browser, live_server, user, viewport)
    try:
        page.goto(live_server.url + f"/panel/{guild.slug}/")
        empty = page.locator(f'tr.job[data-id="{dead.pk}"] progress')
        expect(empty).to_have_attribute("value", "0")
        assert mean_lightness(page.context, empty.screenshot()) > 190, "a 0% bar has a light, empty track"
        # and a bar that has progressed is coloured where it has
        page.evaluate("(id) => { document.querySelector(`tr.job[data-id='${id}'] progress`).value = 100; }",
                      str(dead.pk))
        assert mean_lightness(page.context, empty.screenshot()) < 180, "a full bar is filled in"
    finally:
        page.context.close()
