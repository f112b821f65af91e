"""A person turns push notifications on for their browser from the control panel's *Push notifications*
page, and off again: the page registers the service worker, subscribes with the server's VAPID public key
and hands the subscription to the server (session and CSRF token), which keeps it for that person.

Headless Chromium has no push service to talk to, so the test stands in for the browser's push service:
``PushManager.subscribe`` answers with a subscription whose keys the test made, and records the
``applicationServerKey`` the page passed. Everything else (the page, its script, the service worker, the
JSON endpoint) is the real thing."""

import re

import pytest
from playwright.sync_api import Page, expect

from notifications.models import PushSubscription
from notifications.vapid_keys import b64url_decode
from tests.push_fixtures import Browser, vapid  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINT = "https://push.example.com/send/browser-1"

PUSH_SERVICE = """
(() => {
  const subscription = {
    endpoint: "%(endpoint)s",
    toJSON() { return {endpoint: this.endpoint, keys: {p256dh: "%(p256dh)s", auth: "%(auth)s"}}; },
    unsubscribe: async () => { sessionStorage.setItem("unsubscribed", "yes"); return true; },
  };
  Notification.requestPermission = async () => "granted";
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    sessionStorage.setItem("applicationServerKey", Array.from(key).join(","));
    sessionStorage.setItem("subscribed", "yes");
    return subscription;
  };
  PushManager.prototype.getSubscription = async () => sessionStorage.getItem("subscribed") ? subscription : null;
})();
"""


def test_a_person_turns_push_on_and_off_for_their_browser(page: Page, live_server, world, vapid):
    member = world["member"]
    browser = Browser()
    page.add_init_script(PUSH_SERVICE % {"endpoint": ENDPOINT, "p256dh": browser.p256dh, "auth": browser.auth})
    page.goto(live_server.url + "/accounts/login/?next=/panel/me/push/")
    page.fill("#id_username", member.username)
    page.fill("#id_password", f"pw-{member.username}-1")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/panel/me/push/$"))
    expect(page.locator("#nav-push")).to_be_visible()

    page.click("#push-on")
    expect(page.locator("#push-status")).to_have_text("Push notifications are on for this browser.")
    [subscription] = PushSubscription.objects.all()
    assert (subscription.user, subscription.endpoint, subscription.p256dh, subscription.auth) == (
        member, ENDPOINT, browser.p256dh, browser.auth)
    assert "Chrome" in subscription.user_agent
    key = page.evaluate("sessionStorage.getItem('applicationServerKey')")
    assert bytes(int(b) for b in key.split(",")) == b64url_decode(vapid["public"]), "the server's VAPID key"
    assert page.evaluate("navigator.serviceWorker.getRegistration('/panel/me/push/sw.js').then(r => !!r)")

    page.reload()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Chrome on Linux")

    page.click("#push-off")
    expect(page.locator("#push-status")).to_have_text("Push notifications are off for this browser.")
    assert not PushSubscription.objects.exists()
    assert page.evaluate("sessionStorage.getItem('unsubscribed')") == "yes"


def test_the_page_says_when_push_is_off(page: Page, live_server, world, settings):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    member = world["member"]
    page.goto(live_server.url + "/accounts/login/?next=/panel/me/push/")
    page.fill("#id_username", member.username)
    page.fill("#id_password", f"pw-{member.username}-1")
    page.click("button[type=submit]")
    expect(page.locator("#push-disabled")).to_contain_text("VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set")
    expect(page.locator("#push-on")).to_have_count(0)
