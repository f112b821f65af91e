"""The control panel looks finished on a phone (390×844) and on a desktop (1366×768): every guild page
(the guild's exports and jobs, branding, webhooks, audit trail) is styled by jobdesk's own stylesheet
(served from its static files, no CDN), carries the guild's navigation, never scrolls sideways as a whole
on a phone (a wide table scrolls inside its box), and says what to do when a list is empty.

Screenshots of each page at both sizes are kept in ``test-artifacts/panel-look/`` (ignored by git) for a
person to look at; the assertions are what users rely on.
"""

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from audit.services import audit_event_record
from exports import services as export_services
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
