"""A guild admin edits the bot's branding in the control panel: the embed preview follows what they
type (name, colour, footer, icon), they save, and, without reloading, watch each shard's status reach
"applied" (one shard answers 500 once first) and the fan-out's job reach "succeeded" through the page's
own polling. Real peers as shards and a
real worker; a bad colour shows its error beside the field."""

import re

import pytest
from playwright.sync_api import Page, expect

from branding.models import FanOut, GuildBranding
from project.models import Guild, Membership
from tests.branding_fixtures import WORKER_ENV, shard_peers  # noqa: F401 (fixture)
from tests.browser.test_guild_admin_exports import log_in_to_panel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guild_admin(django_user_model):
    guild = Guild.objects.create(name="Brandy", slug="brandy")
    user = django_user_model.objects.create_user("brand-admin", password="pw-brand-admin-1")
    Membership.objects.create(user=user, guild=guild, role="admin")
    return user, guild


def open_branding(page: Page, guild):
    page.get_by_role("link", name=guild.name, exact=True).click()
    page.get_by_role("link", name="Branding of the bot's embeds").click()
    page.wait_for_url(re.compile(rf"/panel/{guild.slug}/branding/$"))


def test_guild_admin_previews_saves_and_watches_the_shards_apply(page, live_server, start_worker, shard_peers,
                                                                 guild_admin):
    user, guild = guild_admin
    shard_peers(1, lambda snapshot, n: 500 if n == 0 else "ok")
    shard_peers(2)
    start_worker(env=WORKER_ENV)
    log_in_to_panel(page, live_server, user)
    open_branding(page, guild)

    page.fill("#id_display_name", "Brandy Bot")
    expect(page.locator("#preview-name")).to_have_text("Brandy Bot")
    page.fill("#id_color", "#ff8800")
    expect(page.locator("#embed-preview")).to_have_css("border-left-color", "rgb(255, 136, 0)")
    page.fill("#id_footer_text", "Served by Brandy")
    expect(page.locator("#preview-footer")).to_have_text("Served by Brandy")
    page.fill("#id_icon_url", "https://cdn.example.com/brandy.png")
    expect(page.locator("#preview-icon")).to_have_attribute("src", "https://cdn.example.com/brandy.png")

    page.get_by_role("button", name="Save and send to the bot").click()
    page.wait_for_url(re.compile(rf"/panel/{guild.slug}/branding/$"))
    expect(page.locator("#fan-out-version")).to_have_text("1")
    # The page's polling script updates the table; the test never reloads.
    expect(page.locator("#shard-1 .status")).to_have_text("applied", timeout=40_000)
    expect(page.locator("#shard-2 .status")).to_have_text("applied", timeout=40_000)
    expect(page.locator("#fan-out-status")).to_have_text("applied", timeout=40_000)
    expect(page.locator("#fan-out-summary")).to_have_text("2 of 2 shards applied")
    # The fan-out's job follows its shards and ends succeeded; the page shows it without a reload.
    expect(page.locator("#fan-out-job")).to_have_text("succeeded", timeout=40_000)
    expect(page.locator("#shard-1 td").nth(2)).to_have_text("2")  # two attempts: a 500, then applied
    assert GuildBranding.objects.get(guild=guild).display_name == "Brandy Bot"
    assert FanOut.objects.get(guild=guild).status == "applied"


def test_a_bad_colour_is_shown_beside_the_field(page, live_server, guild_admin):
    user, guild = guild_admin
    log_in_to_panel(page, live_server, user)
    open_branding(page, guild)
    page.fill("#id_color", "orange")
    expect(page.locator("#embed-preview")).not_to_have_css("border-left-color", "orange")
    page.get_by_role("button", name="Save and send to the bot").click()
    expect(page.locator("#field-color .errorlist")).to_contain_text("a hex colour like #5865f2")
    assert not GuildBranding.objects.exists()


def test_guild_admin_retries_the_failed_shard_and_watches_it_apply(page, live_server, start_worker, shard_peers,
                                                                   guild_admin):
    user, guild = guild_admin
    refusing = {"on": True}
    healthy = shard_peers(1)
    broken = shard_peers(2, lambda snapshot, n: 400 if refusing["on"] else "ok")
    start_worker(env=WORKER_ENV)
    log_in_to_panel(page, live_server, user)
    open_branding(page, guild)
    page.fill("#id_display_name", "Brandy Bot")
    page.get_by_role("button", name="Save and send to the bot").click()
    page.wait_for_url(re.compile(rf"/panel/{guild.slug}/branding/$"))

    expect(page.locator("#shard-2 .status")).to_have_text("failed", timeout=40_000)
    expect(page.locator("#fan-out-job")).to_have_text("dead", timeout=40_000)
    expect(page.locator("#shard-1 .status")).to_have_text("applied")

    refusing["on"] = False
    page.reload()  # the retry button is drawn with the page once the fan-out has failed
    page.get_by_role("button", name="Retry failed shards").click()
    page.wait_for_url(re.compile(rf"/panel/{guild.slug}/branding/$"))
    expect(page.locator("#shard-2 .status")).to_have_text("applied", timeout=40_000)
    expect(page.locator("#fan-out-status")).to_have_text("applied", timeout=40_000)
    expect(page.locator("#fan-out-job")).to_have_text("succeeded", timeout=40_000)
    assert len(healthy.received) == 1, "the shard that applied is not sent it again"
    assert len(broken.received) == 2
