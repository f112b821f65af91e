"""A guild admin sets the guild's time zone in a browser: Settings in the guild navigation, the zone
field offers the zone names (a datalist), a bad name shows its error beside the field, a good one is
saved; back on the guild page the export form names the zone and the job list's heading says it."""

import re

import pytest
from playwright.sync_api import expect

from project.models import Guild, Membership
from tests.browser.test_guild_admin_exports import log_in_to_panel, open_guild

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guild_admin(django_user_model):
    guild = Guild.objects.create(name="Zoned", slug="zoned")
    user = django_user_model.objects.create_user("zone-admin", password="pw-zone-admin-1")
    Membership.objects.create(user=user, guild=guild, role="admin")
    return user, guild


def test_guild_admin_sets_the_time_zone_from_the_navigation(page, live_server, guild_admin):
    user, guild = guild_admin
    log_in_to_panel(page, live_server, user)
    open_guild(page, guild)
    expect(page.locator("#export-time-zone")).to_contain_text("UTC")
    page.click("#nav-settings")
    page.wait_for_url(re.compile(rf"/panel/{guild.slug}/settings/$"))
    expect(page.locator("#nav-settings")).to_have_attribute("aria-current", "page")
    expect(page.locator("#id_time_zone")).to_have_value("UTC")
    assert page.locator("#time-zones option[value='Europe/Paris']").count() == 1, "the zones are offered"

    page.fill("#id_time_zone", "Europe/Pariss")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#field-time_zone .errorlist")).to_contain_text("is not a time zone name")
    assert Guild.objects.get(pk=guild.pk).time_zone == "UTC"

    page.fill("#id_time_zone", "Europe/Paris")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".messages")).to_contain_text("time zone is Europe/Paris")
    expect(page.locator("#current-time-zone")).to_have_text("Europe/Paris")
    assert Guild.objects.get(pk=guild.pk).time_zone == "Europe/Paris"

    page.click("#nav-exports")
    expect(page.locator("#export-time-zone")).to_contain_text("Europe/Paris")
    expect(page.locator("#jobs-created-heading")).to_have_text("created (Europe/Paris)")
