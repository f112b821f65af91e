"""The webhooks page of the control panel says, in plain sentences, why a URL is refused ("10.0.0.5 is an
internal address (private); use your server's public address", "hooks.example resolves to 10.0.0.5, an
internal address (private)"), and its help says what is really accepted: http:// and https:// (https
recommended), internal addresses refused unless the deployment allows them (OUTBOUND_ALLOWED_NETWORKS),
naming what it allows."""

import socket

import pytest
from django.test import Client

from notifications.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

PAGE = "/panel/mine/webhooks/"
PREFIX = "this URL may not be used: "


def add(world, url):
    client = Client()
    client.force_login(world["admin"])
    return client.post(PAGE, {"url": url, "events": ["job.dead"]})


@pytest.mark.parametrize("url, sentence", [
    ("http://10.0.0.5/hook", "10.0.0.5 is an internal address (private); use your server's public address"),
    ("http://169.254.169.254/latest/meta-data",
     "169.254.169.254 is an internal address (link-local); use your server's public address"),
    ("http://[::1]/hook", "::1 is an internal address (loopback); use your server's public address"),
    ("http://100.64.1.1/hook", "100.64.1.1 is not a public address; use your server's public address"),
])
def test_an_address_that_is_internal_is_refused_in_one_sentence(world, settings, url, sentence):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    response = add(world, url)
    assert response.status_code == 400
    assert response.context["form"].errors["url"] == [PREFIX + sentence]
    assert not WebhookEndpoint.objects.exists()


def test_a_name_that_resolves_to_an_internal_address_says_where_it_resolves(world, settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    response = add(world, "https://hooks.example/hook")
    assert response.status_code == 400
    assert response.context["form"].errors["url"] == [
        PREFIX + "hooks.example resolves to 10.0.0.5, an internal address (private)"]


def test_the_help_says_http_and_https_are_accepted_and_internal_addresses_refused(world, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    client = Client()
    client.force_login(world["admin"])
    response = client.get(PAGE)
    help_text = response.context["form"].fields["url"].help_text
    assert "http://" in help_text and "https://" in help_text and "recommended" in help_text
    assert "Internal addresses (private, loopback, link-local) are refused." in help_text
    assert "OUTBOUND_ALLOWED_NETWORKS" not in help_text, "nothing is allowed: nothing to name"
    assert help_text in response.content.decode()
    assert add(world, "http://93.184.215.14/hook").status_code == 201, "http:// is accepted, as the help says"


def test_the_help_names_the_networks_this_deployment_allows(world, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]  # as `make run` sets it (and more)
    client = Client()
    client.force_login(world["admin"])
    help_text = client.get(PAGE).context["form"].fields["url"].help_text
    assert "OUTBOUND_ALLOWED_NETWORKS" in help_text and "127.0.0.1/32, ::1/128" in help_text
    assert add(world, "http://127.0.0.1:9/hook").status_code == 201, "what it names is accepted"
    assert add(world, "http://10.0.0.5/hook").status_code == 400, "and nothing else internal"
