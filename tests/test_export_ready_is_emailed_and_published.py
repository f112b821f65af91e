"""When an export is made, the guild admin who asked for it gets an e-mail (text and HTML parts, sent by
a real worker through Django's SMTP backend to a real SMTP server) with the link to the control panel
where the download is, and the guild's endpoints subscribed to "export.ready" get the event, signed."""

import json
from datetime import date

import pytest
from django.db import transaction

from exports.services import export_request
from jobs.models import JobRecord, Status
from notifications import signing
from notifications.services import webhook_endpoint_create
from tests.conftest import wait_for
from tests.notifications_fixtures import parts, requests_to, smtp_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_requester_is_emailed_and_the_webhook_told(world, settings, smtp_server, httpserver, start_worker):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    admin = world["admin"]
    admin.email = "admin@mine.example"
    admin.save()
    httpserver.expect_request("/exports").respond_with_data("ok")
    endpoint, secret = webhook_endpoint_create(guild=world["mine"], url=httpserver.url_for("/exports"),
                                               events=["export.ready"])
    webhook_endpoint_create(guild=world["mine"], url=httpserver.url_for("/other"), events=["job.dead"])
    with transaction.atomic():
        export, _ = export_request(guild=world["mine"], user=admin, format="csv", start=date(2026, 1, 1),
                                   end=date(2026, 1, 31), metrics=["messages"])
    start_worker(env={**smtp_server.env, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
                      "SITE_URL": "https://jobs.example.com"})

    wait_for(lambda: smtp_server.received(), timeout=60, interval=0.2, message="the export-ready e-mail")
    [(recipients, message)] = smtp_server.received()
    assert recipients == ["admin@mine.example"]
    assert message["Subject"] == "Your CSV export of Mine is ready"
    assert message["From"] == "jobdesk <jobdesk@example.com>"
    text, html = parts(message)
    assert "https://jobs.example.com/panel/mine/" in text and "2026-01-01 to 2026-01-31" in text
    assert 'href="https://jobs.example.com/panel/mine/"' in html
    mail_job = JobRecord.objects.get(job_type="notifications.send_email")
    assert mail_job.status == Status.SUCCEEDED and mail_job.guild_id == world["mine"].pk
    assert mail_job.correlation_id == JobRecord.objects.get(pk=export.job_id).correlation_id

    wait_for(lambda: requests_to(httpserver, "/exports"), timeout=30, interval=0.2, message="the webhook")
    [request] = requests_to(httpserver, "/exports")
    signing.verify(secret, request.headers, request.get_data())
    body = json.loads(request.get_data())
    assert body["event"] == "export.ready" and body["data"]["export_id"] == export.pk
    assert body["data"]["panel_url"] == "https://jobs.example.com/panel/mine/"
    assert requests_to(httpserver, "/other") == [], "an endpoint not subscribed to it hears nothing"
