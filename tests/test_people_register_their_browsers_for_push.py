"""A logged-in person registers (and unregisters) their browser's push subscription through the panel's
JSON endpoint: someone not logged in is refused (401), a request without the CSRF token is refused (403),
bad keys or an endpoint that may not be called answer 400 naming the field, all as JSON. The panel page
hands the browser the server's VAPID public key, or says push is off when the keys are not set."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from notifications.models import PushSubscription
from tests.push_fixtures import Browser, b64url_encode, vapid  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

URL = "/panel/me/push/subscriptions"


def logged_in(user, *, csrf=True):
    """A client that enforces CSRF as a browser would meet it, and the token the page gives."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(reverse("push:page"))
    assert page.status_code == 200
    return client, str(page.context["csrf_token"]) if csrf else ""


def post(client, token, body, method="post"):
    return getattr(client, method)(URL, json.dumps(body), content_type="application/json",
                                   HTTP_X_CSRFTOKEN=token)


def test_the_route_is_the_one_the_page_calls():
    assert reverse("push:subscriptions") == URL


def test_a_person_registers_and_unregisters_a_browser(vapid, world):
    client, token = logged_in(world["member"])
    browser = Browser()
    answer = post(client, token, browser.subscription("https://push.example.com/send/abc"))
    assert answer.status_code == 201, answer.content
    [subscription] = PushSubscription.objects.all()
    assert subscription.user == world["member"] and subscription.p256dh == browser.p256dh
    assert answer.json()["id"] == subscription.pk

    again = Browser()  # the browser subscribed again: same endpoint, new keys
    assert post(client, token, again.subscription("https://push.example.com/send/abc")).status_code == 201
    assert list(PushSubscription.objects.values_list("p256dh", flat=True)) == [again.p256dh]

    other, other_token = logged_in(world["admin"])
    answer = post(other, other_token, {"endpoint": "https://push.example.com/send/abc"}, method="delete")
    assert answer.status_code == 404 and answer.json()["field"] == "endpoint", "not theirs to remove"
    assert post(client, token, {"endpoint": "https://push.example.com/send/abc"}, method="delete").status_code == 204
    assert not PushSubscription.objects.exists()


def test_an_endpoint_someone_else_subscribed_is_not_taken_over_with_other_keys(vapid, world):
    """Knowing another person's endpoint is no proof: with other keys it is refused (their pushes would
    become noise only the newcomer could read); the same browser (its own keys) with another person
    logged in moves to that person."""
    owner, owner_token = logged_in(world["member"])
    browser = Browser()
    assert post(owner, owner_token, browser.subscription("https://push.example.com/send/own")).status_code == 201

    intruder, intruder_token = logged_in(world["admin"])
    answer = post(intruder, intruder_token, Browser().subscription("https://push.example.com/send/own"))
    assert answer.status_code == 409 and answer.json()["field"] == "endpoint", answer.content
    assert list(PushSubscription.objects.values_list("user", "p256dh")) == [(world["member"].pk, browser.p256dh)]

    same_browser = post(intruder, intruder_token, browser.subscription("https://push.example.com/send/own"))
    assert same_browser.status_code == 201
    assert list(PushSubscription.objects.values_list("user", flat=True)) == [world["admin"].pk]


def test_someone_not_logged_in_is_refused(vapid):
    answer = Client().post(URL, json.dumps(Browser().subscription("https://push.example.com/x")),
                           content_type="application/json")
    assert answer.status_code == 401 and answer.json()["error"] == "not_authenticated"
    assert Client().get(reverse("push:page")).status_code == 302, "the page sends them to log in"
    assert not PushSubscription.objects.exists()


def test_a_request_without_the_csrf_token_is_refused(vapid, world):
    client, _ = logged_in(world["member"])
    for token in ("", "not-the-token"):
        answer = post(client, token, Browser().subscription("https://push.example.com/x"))
        assert answer.status_code == 403 and answer.json()["error"] == "csrf"
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("change, field", [
    (lambda s: s.pop("endpoint"), "endpoint"),
    (lambda s: s.update(endpoint="ftp://push.example.com/x"), "endpoint"),
    (lambda s: s.update(endpoint="https://10.0.0.8/x"), "endpoint"),
    (lambda s: s.update(endpoint="http://169.254.169.254/latest"), "endpoint"),
    (lambda s: s["keys"].pop("p256dh"), "keys.p256dh"),
    (lambda s: s["keys"].update(p256dh="not base64!"), "keys.p256dh"),
    (lambda s: s["keys"].update(p256dh=b64url_encode(b"\x04" + b"\x01" * 64)), "keys.p256dh"),  # not on the curve
    (lambda s: s["keys"].update(p256dh=s["keys"]["p256dh"][:40]), "keys.p256dh"),
    (lambda s: s["keys"].pop("auth"), "keys.auth"),
    (lambda s: s["keys"].update(auth=b64url_encode(b"short")), "keys.auth"),
    (lambda s: s.update(endpoint="https://push.example.com/send/a\x00b"), "endpoint"),  # no column holds a NUL
    (lambda s: s["keys"].update(auth="\ud800"), "keys.auth"),
])
def test_bad_input_is_refused_naming_the_field(vapid, world, change, field):
    client, token = logged_in(world["member"])
    subscription = Browser().subscription("https://push.example.com/send/abc")
    change(subscription)
    answer = post(client, token, subscription)
    assert answer.status_code == 400, answer.content
    assert answer.json()["field"] == field
    assert not PushSubscription.objects.exists()


def test_bad_bodies_and_methods_answer_json(vapid, world):
    client, token = logged_in(world["member"])
    answer = client.post(URL, "{not json", content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_json"
    deep = "[" * 1500 + "]" * 1500  # 3 KB, under the limit: deeper than the JSON reader goes (was a 500)
    answer = client.post(URL, deep, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_json"
    answer = client.get(URL)
    assert answer.status_code == 405 and answer["Allow"] == "POST, DELETE"


def test_the_page_gives_the_vapid_public_key_and_the_service_worker(vapid, world):
    client, _ = logged_in(world["member"])
    page = client.get(reverse("push:page")).content.decode()
    assert f'data-key="{vapid["public"]}"' in page and vapid["private"] not in page
    worker = client.get(reverse("push:service_worker"))
    assert worker.status_code == 200 and worker["Content-Type"].startswith("text/javascript")
    assert b'addEventListener("push"' in worker.content


def test_push_off_says_so(settings, world):
    settings.VAPID_PUBLIC_KEY = settings.VAPID_PRIVATE_KEY = ""
    client, token = logged_in(world["member"])
    assert b"Push notifications are off on this server" in client.get(reverse("push:page")).content
    answer = post(client, token, Browser().subscription("https://push.example.com/x"))
    assert answer.status_code == 409 and answer.json()["error"] == "push_disabled"
