"""The control panel pages: scoped to the caller's guilds, the export form's errors beside its fields,
downloads through signed links, retries for guild admins."""

from datetime import date, datetime, timezone

import pytest
from django.test import Client

from audit.models import AuditEvent
from exports import services
from exports.models import AnalyticsEvent, Export
from jobs.models import JobRecord, Status
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user):
    client = Client()
    if user:
        client.force_login(user)
    return client


GOOD = {"format": "csv", "start": "2026-03-01", "end": "2026-03-31", "metrics": ["messages"]}


def test_pages_are_scoped_to_the_callers_guilds(world):
    assert client_for(None).get("/panel/mine/").status_code == 302, "anonymous: to the login page"
    assert client_for(world["other_admin"]).get("/panel/mine/").status_code == 404
    member_page = client_for(world["member"]).get("/panel/mine/")
    assert member_page.status_code == 200 and "export-form" not in member_page.content.decode()
    assert client_for(world["member"]).post("/panel/mine/", GOOD).status_code == 403
    assert not Export.objects.exists()
    guilds = client_for(world["other_admin"]).get("/panel/").content.decode()
    assert "Other" in guilds and "Mine" not in guilds


def test_form_errors_show_beside_their_fields_and_write_nothing(world):
    client = client_for(world["admin"])
    response = client.post("/panel/mine/", {**GOOD, "start": "2026-04-01"})
    assert response.status_code == 400
    assert response.context["form"].errors["end"] == ["the range ends before it starts"]
    html = response.content.decode()
    assert html.index('id="field-end"') < html.index("the range ends before it starts") < html.index('id="field-metrics"')
    response = client.post("/panel/mine/", {**GOOD, "metrics": []})
    assert "metrics" in response.context["form"].errors
    assert not Export.objects.exists() and not JobRecord.objects.exists()


def test_an_admin_exports_downloads_and_the_download_is_audited(world, start_worker):
    AnalyticsEvent.objects.create(guild=world["mine"], kind="messages", value=3,
                                  time=datetime(2026, 3, 5, tzinfo=timezone.utc))
    client = client_for(world["admin"])
    assert client.post("/panel/mine/", GOOD).status_code == 302
    export = Export.objects.get()
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=export.job_id, status=Status.SUCCEEDED).exists(), timeout=30)
    page = client.get("/panel/mine/")
    url = page.context["exports"][0].download_url
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0] == "id,time,kind,value,dimensions" and ",messages,3," in body
    assert AuditEvent.objects.filter(action="export.downloaded", actor=world["admin"]).count() == 1
    assert client_for(world["other_admin"]).get(url).status_code == 404, "a link is no use outside the guild"
    assert client.get(url[:-3] + "xx/").status_code == 403


def test_an_expired_link_is_refused(world, settings):
    export = Export.objects.create(guild=world["mine"], format="csv", start=date(2026, 3, 1), end=date(2026, 3, 2),
                                   metrics=["messages"], file_name="exports/x.enc",
                                   completed_at=datetime.now(timezone.utc))
    url = f"/panel/downloads/{services.download_token(export)}/"
    settings.EXPORTS_LINK_TTL = 1
    import time

    time.sleep(2.1)
    response = client_for(world["admin"]).get(url)
    assert response.status_code == 410 and "expired" in response.content.decode()


def test_a_guild_admin_retries_a_failed_export(world, clean_redis):
    client = client_for(world["admin"])
    client.post("/panel/mine/", GOOD)
    export = Export.objects.get()
    JobRecord.objects.filter(pk=export.job_id).update(status=Status.DEAD, attempts=3)
    clean_redis.flushdb()
    assert client_for(world["member"]).post(f"/panel/mine/exports/{export.pk}/retry/").status_code == 403
    assert client_for(world["other_admin"]).post(f"/panel/mine/exports/{export.pk}/retry/").status_code == 404
    assert client.post(f"/panel/mine/exports/{export.pk}/retry/").status_code == 302
    assert JobRecord.objects.get(pk=export.job_id).status == Status.QUEUED
