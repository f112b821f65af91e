"""A guild's admin manages its webhook endpoints in the control panel (add with URL and events, see the
secret once, disable, delete, see recent deliveries with their attempts); a member may not (403), and
another guild's admin sees nothing of them (404). Staff see endpoints in the admin, never their secret."""

import pytest
from django.test import Client

from audit.models import AuditEvent
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from notifications.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def public_only(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(world):
    client = logged_in(world["admin"])
    assert client.get("/panel/mine/").content.count(b"/panel/mine/webhooks/") == 1, "linked from the guild page"
    response = client.post("/panel/mine/webhooks/", {"url": "https://93.184.215.14/hook",
                                                     "events": ["export.ready", "job.dead"]})
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.guild == world["mine"] and endpoint.events == ["export.ready", "job.dead"]
    assert endpoint.secret.startswith("whsec_") and endpoint.secret.encode() in response.content
    assert AuditEvent.objects.filter(action="webhook.created", resource_id=str(endpoint.pk),
                                     actor=world["admin"]).exists()

    page = client.get("/panel/mine/webhooks/")
    assert page.status_code == 200 and b"https://93.184.215.14/hook" in page.content
    assert endpoint.secret.encode() not in page.content, "never listed"


def test_recent_deliveries_show_each_attempt(world):
    endpoint, _ = webhook_endpoint_create(guild=world["mine"], url="https://93.184.215.14/h", events=["job.dead"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="job.dead", payload={}, status="delivered")
    WebhookAttempt.objects.create(delivery=delivery, number=1, response_status=502, elapsed_ms=41, error="HTTP 502")
    WebhookAttempt.objects.create(delivery=delivery, number=2, response_status=200, elapsed_ms=12)
    page = logged_in(world["admin"]).get("/panel/mine/webhooks/").content.decode()
    assert "HTTP 502, 41 ms" in page and "HTTP 200, 12 ms" in page and "Delivered" in page


def test_an_admin_disables_and_deletes_an_endpoint(world):
    endpoint, _ = webhook_endpoint_create(guild=world["mine"], url="https://93.184.215.14/h", events=["job.dead"])
    client = logged_in(world["admin"])
    assert client.post(f"/panel/mine/webhooks/{endpoint.pk}/enable/", {"enabled": "0"}).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert client.post(f"/panel/mine/webhooks/{endpoint.pk}/enable/", {"enabled": "1"}).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    assert client.post(f"/panel/mine/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("who, status", [("member", 403), ("other_admin", 404), ("staff", 404)])
def test_others_may_not_see_or_touch_a_guilds_webhooks(world, who, status):
    endpoint, _ = webhook_endpoint_create(guild=world["mine"], url="https://93.184.215.14/h", events=["job.dead"])
    client = logged_in(world[who])
    assert client.get("/panel/mine/webhooks/").status_code == status
    assert client.post("/panel/mine/webhooks/", {"url": "https://93.184.215.14/x", "events": ["job.dead"]}).status_code == status
    assert client.post(f"/panel/mine/webhooks/{endpoint.pk}/delete/").status_code == status
    assert client.post(f"/panel/mine/webhooks/{endpoint.pk}/enable/", {"enabled": "0"}).status_code == status
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookEndpoint.objects.count() == 1


def test_another_guilds_endpoint_is_not_found_through_ones_own_guild(world):
    theirs, _ = webhook_endpoint_create(guild=world["other"], url="https://93.184.215.14/t", events=["job.dead"])
    client = logged_in(world["admin"])
    assert client.post(f"/panel/mine/webhooks/{theirs.pk}/delete/").status_code == 404
    assert b"93.184.215.14/t" not in client.get("/panel/mine/webhooks/").content
    assert WebhookEndpoint.objects.filter(pk=theirs.pk).exists()


def test_anonymous_is_sent_to_log_in(world):
    response = Client().get("/panel/mine/webhooks/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_staff_see_endpoints_in_the_admin_without_their_secret(world, django_user_model):
    endpoint, secret = webhook_endpoint_create(guild=world["mine"], url="https://93.184.215.14/h", events=["job.dead"])
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client = logged_in(superuser)
    listing = client.get("/admin/notifications/webhookendpoint/")
    change = client.get(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/")
    assert listing.status_code == change.status_code == 200
    assert secret.encode() not in listing.content and secret.encode() not in change.content

    response = client.post("/admin/notifications/webhookendpoint/add/", {
        "guild": world["mine"].pk, "url": "https://93.184.215.14/new", "events": ["export.ready"], "enabled": "on"},
        follow=True)
    created = WebhookEndpoint.objects.get(url="https://93.184.215.14/new")
    assert created.secret.startswith("whsec_") and created.secret.encode() in response.content, "shown once"
    assert created.secret.encode() not in client.get("/admin/notifications/webhookendpoint/").content


def test_staff_change_an_endpoints_events_in_the_admin(world, django_user_model):
    endpoint, secret = webhook_endpoint_create(guild=world["mine"], url="https://93.184.215.14/h",
                                               events=["job.dead", "export.ready"])
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client = logged_in(superuser)
    form = client.get(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/").context["adminform"].form
    assert form.initial["events"] == ["job.dead", "export.ready"]
    response = client.post(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/", {
        "guild": world["mine"].pk, "url": "https://93.184.215.14/h2", "events": ["branding.applied"], "enabled": "on",
        "disabled_reason": ""})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.215.14/h2" and endpoint.events == ["branding.applied"]
    assert endpoint.secret == secret, "the secret stays"
    assert client.get("/admin/notifications/webhookendpoint/add/").context["adminform"].form.initial.get("events") is None
