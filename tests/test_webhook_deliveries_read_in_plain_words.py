"""A guild admin reads webhook deliveries in plain words: an attempt without an answer says "connection
refused", "host not found", "timed out" or "TLS error", one with an answer "HTTP 502" (never Python's
exception names or errno); a delivery whose attempts failed while more are left reads "Retrying (attempt
4 of 5 …)", not "pending". The stored error keeps its detail for staff."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import JobRecord, Status
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from notifications.services import event_publish
from notifications.views import attempt_outcome

pytestmark = pytest.mark.django_db

STORED = {  # what notifications.outbound records for each kind of failure
    "connection refused": "127.0.0.1: ConnectionRefusedError: [Errno 111] Connection refused",
    "host not found": "example.com does not resolve: [Errno -2] Name or service not known",
    "timed out": "hooks.example.com: TimeoutError: timed out",
    "TLS error": ("hooks.example.com: SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
                  "verify failed: self-signed certificate (_ssl.c:1006)"),
    "connection reset": "hooks.example.com: ConnectionResetError: [Errno 104] Connection reset by peer",
}


@pytest.mark.parametrize("words, stored", list(STORED.items()))
def test_an_attempt_without_an_answer_reads_as_words(words, stored):
    assert attempt_outcome(None, stored) == (words, "")


@pytest.mark.parametrize("status, stored, expected", [
    (502, "HTTP 502 Bad Gateway", ("HTTP 502", "")),
    (200, "", ("HTTP 200", "")),
    (410, "410 Gone: endpoint disabled", ("HTTP 410", "the endpoint was disabled")),
    (307, "redirects are not followed (to https://elsewhere.example/)",
     ("HTTP 307", "redirects are not followed (to https://elsewhere.example/)")),
    (None, "refused: hooks.example resolves to 10.0.0.5, an internal address (private)",
     ("refused", "hooks.example resolves to 10.0.0.5, an internal address (private)")),
    (None, "something nobody foresaw: OSError: [Errno 5] Input/output error", ("no answer", "")),
])
def test_an_answer_reads_as_its_status(status, stored, expected):
    assert attempt_outcome(status, stored) == expected


@pytest.fixture
def admin_client(world):
    client = Client()
    client.force_login(world["admin"])
    return client


def test_the_webhooks_page_shows_words_not_python_errors(world, admin_client):
    endpoint = WebhookEndpoint.objects.create(guild=world["mine"], url="https://93.184.215.14/h", secret="s" * 40,
                                              events=["job.dead"])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="job.dead", payload={}, status="failed")
    for number, stored in enumerate(STORED.values(), start=1):
        WebhookAttempt.objects.create(delivery=delivery, number=number, error=stored)
    WebhookAttempt.objects.create(delivery=delivery, number=9, response_status=502, elapsed_ms=30,
                                  error="HTTP 502 Bad Gateway")
    html = admin_client.get("/panel/mine/webhooks/").content.decode()
    row = html.split(f'id="delivery-{delivery.pk}"')[1].split("</tr>")[0]
    for words in STORED:
        assert f": {words}</li>" in row, words
    assert ": HTTP 502, 30 ms</li>" in row and ">Failed<" in row
    for python in ("Errno", "Error", "_ssl.c", "no answer —"):
        assert python not in row, python
    assert WebhookAttempt.objects.filter(error__contains="[Errno 111]").exists(), "staff keep the detail"


def test_a_pending_delivery_with_failed_attempts_reads_retrying(world, admin_client):
    endpoint = WebhookEndpoint.objects.create(guild=world["mine"], url="https://93.184.215.14/h", secret="s" * 40,
                                              events=["job.dead"])
    [delivery] = event_publish(guild=world["mine"], event="job.dead", data={})
    for number in (1, 2, 3):
        WebhookAttempt.objects.create(delivery=delivery, number=number, error=STORED["connection refused"])
    next_run = timezone.now() + timedelta(minutes=5)
    JobRecord.objects.filter(pk=delivery.job_id).update(status=Status.RETRYING, attempts=3, max_attempts=5,
                                                        run_at=next_run)
    html = admin_client.get("/panel/mine/webhooks/").content.decode()
    row = html.split(f'id="delivery-{delivery.pk}"')[1].split("</tr>")[0]
    assert f"Retrying (attempt 4 of 5, at {timezone.localtime(next_run):%H:%M:%S})" in row
    assert "pending" not in row.lower()

    JobRecord.objects.filter(pk=delivery.job_id).update(status=Status.RUNNING, attempts=4)
    row = admin_client.get("/panel/mine/webhooks/").content.decode().split(f'id="delivery-{delivery.pk}"')[1]
    assert "Retrying (attempt 4 of 5)" in row.split("</tr>")[0]

    fresh = WebhookDelivery.objects.create(endpoint=endpoint, event="job.dead", payload={})
    row = admin_client.get("/panel/mine/webhooks/").content.decode().split(f'id="delivery-{fresh.pk}"')[1]
    assert "Waiting to be sent" in row.split("</tr>")[0]
