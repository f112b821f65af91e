"""A guild's webhook endpoint gets each event it subscribed to as a signed POST, delivered by a real
worker: failures are retried with backoff (every attempt kept with the answer's status and time), a
``410 Gone`` disables the endpoint and says why, and a disabled endpoint gets nothing more."""

import json

import pytest
from django.db import transaction
from werkzeug import Response

from jobs.models import JobRecord, Status
from notifications import signing
from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.services import event_publish, webhook_endpoint_create
from project.models import Guild
from tests.conftest import wait_for
from tests.notifications_fixtures import requests_to

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_ENV = {"OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32", "NOTIFICATIONS_WEBHOOK_BACKOFF": "1"}
NOTIFICATION_QUEUES = ("jdtest.notifications.high", "jdtest.notifications", "jdtest.notifications.low")


@pytest.fixture
def guild(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    return Guild.objects.create(name="Mine", slug="mine")


def finished(delivery_id):
    def check():
        delivery = WebhookDelivery.objects.get(pk=delivery_id)
        return delivery if delivery.status != WebhookDelivery.Status.PENDING else None
    return check


def test_a_delivery_is_signed_and_retried_until_it_is_answered(guild, httpserver, start_worker):
    endpoint, secret = webhook_endpoint_create(guild=guild, url=httpserver.url_for("/hook"),
                                               events=["export.ready", "job.dead"])
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=500)
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_request("/hook").respond_with_data("thanks", status=200)
    with transaction.atomic():
        deliveries = event_publish(guild=guild, event="export.ready", data={"export_id": 7})
        assert event_publish(guild=guild, event="branding.applied", data={}) == [], "not subscribed to it"
    [delivery] = deliveries
    start_worker(*NOTIFICATION_QUEUES, env=WORKER_ENV)

    delivery = wait_for(finished(delivery.pk), timeout=60, interval=0.2, message="the delivery to end")
    assert delivery.status == WebhookDelivery.Status.DELIVERED
    attempts = list(delivery.attempts.order_by("number"))
    assert [(a.number, a.response_status) for a in attempts] == [(1, 500), (2, 503), (3, 200)]
    assert all(a.elapsed_ms is not None and a.elapsed_ms >= 0 for a in attempts)
    assert attempts[0].error.startswith("HTTP 500")
    job = JobRecord.objects.get(pk=delivery.job_id)
    assert job.status == Status.SUCCEEDED and job.attempts == 3 and job.guild_id == guild.pk

    received = requests_to(httpserver, "/hook")
    assert len(received) == 3
    bodies = {request.get_data() for request in received}
    assert len(bodies) == 1, "every attempt sends the same bytes"
    for request in received:
        signing.verify(secret, request.headers, request.get_data())
        assert request.headers["X-Jobdesk-Event"] == "export.ready"
        assert request.headers["X-Jobdesk-Delivery"] == str(delivery.pk)
    body = json.loads(bodies.pop())
    assert body["id"] == delivery.pk and body["event"] == "export.ready" and body["data"] == {"export_id": 7}
    with pytest.raises(signing.SignatureError):
        signing.verify("whsec_someone-else", received[0].headers, received[0].get_data())


def test_410_gone_disables_the_endpoint_and_says_why(guild, httpserver, start_worker):
    endpoint, _ = webhook_endpoint_create(guild=guild, url=httpserver.url_for("/gone"), events=["job.dead"])
    httpserver.expect_request("/gone").respond_with_response(Response("gone", status=410))
    with transaction.atomic():
        [delivery] = event_publish(guild=guild, event="job.dead", data={"job_id": "x"})
    start_worker(*NOTIFICATION_QUEUES, env=WORKER_ENV)

    delivery = wait_for(finished(delivery.pk), timeout=30, interval=0.2, message="the delivery to end")
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert [(a.response_status, a.error) for a in delivery.attempts.all()] == [(410, "410 Gone: endpoint disabled")]
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_at is not None
    assert "410 Gone" in endpoint.disabled_reason and endpoint.url in endpoint.disabled_reason
    job = JobRecord.objects.get(pk=delivery.job_id)
    assert job.status == Status.DEAD and job.attempts == 1, "not retried: retrying cannot help"
    # Every member of the guild reads the job's error; only its admins may read the endpoint's URL.
    assert job.last_error == f"410 Gone: webhook endpoint {endpoint.pk} disabled (delivery {delivery.pk})"

    with transaction.atomic():
        assert event_publish(guild=guild, event="job.dead", data={}) == [], "a disabled endpoint gets nothing"
    assert len(requests_to(httpserver, "/gone")) == 1
    # Its own death is not published back to the endpoint that failed (no loop of job.dead events).
    assert WebhookDelivery.objects.count() == 1
