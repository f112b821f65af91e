"""A webhook URL that is, or resolves to, an internal address is refused when saved (the control panel's
form and the admin's answer 4xx naming ``url``) and again when delivered, after DNS: a hostname that
resolves to 127.0.0.1, IPv6 loopback, and a redirect towards an internal address (never followed) end
the delivery as a permanent failure recorded on the attempt. 127.0.0.1 gets through only by the explicit
``OUTBOUND_ALLOWED_NETWORKS`` setting."""

import socket

import pytest
from django.test import Client

from jobs.errors import JobError, PermanentError
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.services import webhook_deliver, webhook_endpoint_create
from tests.notifications_fixtures import requests_to

pytestmark = pytest.mark.django_db

INTERNAL = ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data", "http://[fe80::1]/hook",
            "https://" + "\u00fc" * 63 + ".com/hook"]  # not internal, but no resolver can take it (was a 500)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", INTERNAL)
def test_the_panel_form_refuses_an_internal_url_naming_the_field(world, settings, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    response = logged_in(world["admin"]).post("/panel/mine/webhooks/", {"url": url, "events": ["job.dead"]})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["url"] and "may not be used" in errors["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_the_panel_form_names_a_bad_event(world, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    response = logged_in(world["admin"]).post("/panel/mine/webhooks/", {"url": "https://93.184.215.14/hook",
                                                                        "events": ["bot.exploded"]})
    assert response.status_code == 400 and list(response.context["form"].errors) == ["events"]


def test_the_service_and_the_admin_refuse_it_too(world, settings, django_user_model):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(JobError) as refused:
        webhook_endpoint_create(guild=world["mine"], url="http://[::ffff:127.0.0.1]/x", events=["job.dead"])
    assert refused.value.field == "url"
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")
    response = logged_in(superuser).post("/admin/notifications/webhookendpoint/add/", {
        "guild": world["mine"].pk, "url": "http://169.254.169.254/", "events": ["job.dead"], "enabled": "on"})
    assert response.status_code == 200 and "url" in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def delivery_to(guild, url, settings):
    """An endpoint saved while its address was allowed, and one delivery to it."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    endpoint, _ = webhook_endpoint_create(guild=guild, url=url, events=["job.dead"])
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    return WebhookDelivery.objects.create(endpoint=endpoint, event="job.dead", payload={"event": "job.dead",
                                                                                       "data": {}})


def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(world, settings, httpserver, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):  # hooks.example is, by the time of delivery, 127.0.0.1
        if host == "hooks.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    httpserver.expect_request("/hook").respond_with_data("ok")
    delivery = delivery_to(world["mine"], f"http://hooks.example:{httpserver.port}/hook", settings)
    with pytest.raises(PermanentError) as refused:
        webhook_deliver(delivery_id=delivery.pk, attempt=1, last=False)
    # the job's error, which every member of the guild reads, names the endpoint, not where it resolved
    assert str(refused.value) == (f"webhook endpoint {delivery.endpoint_id}: refused, not an address jobdesk may "
                                  f"call (delivery {delivery.pk})")
    delivery.refresh_from_db()
    [attempt] = delivery.attempts.all()
    assert delivery.status == "failed" and attempt.response_status is None
    assert attempt.error == "refused: hooks.example resolves to 127.0.0.1, an internal address (loopback)"
    assert requests_to(httpserver, "/hook") == [], "nothing reached the internal peer"

    # Only the explicit setting lets it through.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    delivery = WebhookDelivery.objects.create(endpoint=delivery.endpoint, event="job.dead", payload={})
    assert webhook_deliver(delivery_id=delivery.pk, attempt=1, last=False)["status"] == 200


def test_ipv6_loopback_is_refused_at_delivery(world, settings):
    delivery = delivery_to(world["mine"], "http://[::1]:9/hook", settings)
    with pytest.raises(PermanentError, match="refused") as refused:
        webhook_deliver(delivery_id=delivery.pk, attempt=1, last=False)
    assert "::1" not in str(refused.value)
    assert delivery.attempts.get().error == ("refused: ::1 is an internal address (loopback); use your server's "
                                             "public address")


def test_a_redirect_to_an_internal_address_is_not_followed(world, settings, httpserver):
    httpserver.expect_request("/hook").respond_with_data("", status=307, headers={"Location": "http://169.254.169.254/"})
    delivery = delivery_to(world["mine"], httpserver.url_for("/hook"), settings)
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the peer itself is allowed, its redirect is not
    with pytest.raises(PermanentError, match="redirects are not followed"):
        webhook_deliver(delivery_id=delivery.pk, attempt=1, last=False)
    [attempt] = delivery.attempts.all()
    assert attempt.response_status == 307 and "redirects are not followed (to http://169.254.169.254/)" in attempt.error
    assert len(httpserver.log) == 1
    delivery.refresh_from_db()
    assert delivery.status == "failed"
