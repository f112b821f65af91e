"""The API as a guild's tools use it: ``guild`` by slug as well as id; a finished export's job status
carries its download link; ``/api/docs`` works without internet; the site root leads somewhere."""

import json
import re

import pytest
from django.test import Client

from exports.models import AnalyticsEvent, Export
from jobs.models import JobRecord, Status
from project.tenancy import api_token_create
from tests.conftest import make_staff, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

EXPORT = "/api/control-panel/analytics/export"


def ask(client, guild, **headers):
    return client.post(EXPORT, content_type="application/json", headers=headers, data=json.dumps(
        {"guild": guild, "format": "csv", "start": "2026-01-01", "end": "2026-01-31", "metrics": ["messages"]}))


def as_user(user):
    client = Client()
    client.force_login(user)
    return client


def test_guild_by_slug_for_a_member_and_a_token_and_never_another_guild(world):
    assert ask(as_user(world["admin"]), "mine").status_code == 202
    assert ask(as_user(world["admin"]), "other").status_code == 404
    assert ask(as_user(world["member"]), "mine").status_code == 403
    _, plain = api_token_create(guild=world["mine"], name="pipeline")
    assert ask(Client(), "mine", Authorization=f"Bearer {plain}").status_code == 202
    assert ask(Client(), "other", Authorization=f"Bearer {plain}").status_code == 404
    refused = ask(as_user(world["admin"]), "not a slug!")
    assert refused.status_code in (400, 422) and "guild" in refused.content.decode()
    assert Export.objects.filter(guild=world["mine"]).count() == 2


def test_a_finished_exports_status_carries_its_download_link(world, start_worker):
    from datetime import datetime, timezone

    AnalyticsEvent.objects.bulk_create([AnalyticsEvent(guild=world["mine"], kind="messages", value=i,
                                                       time=datetime(2026, 1, 2, i, tzinfo=timezone.utc))
                                        for i in range(5)])
    client = as_user(world["admin"])
    job = ask(client, world["mine"].pk).json()
    pending = client.get(job["status_url"]).json()
    assert pending["export"]["download_url"] is None
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=job["id"], status=Status.SUCCEEDED).exists(), timeout=40)
    done = client.get(job["status_url"]).json()
    assert done["export"]["rows"] == 5
    link = done["export"]["download_url"]
    assert link.startswith("http://testserver/panel/downloads/")
    download = client.get(link.removeprefix("http://testserver"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content).count(b"\n") == 6  # the header and five rows


def test_api_docs_render_from_our_own_static_files(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn" not in html.lower()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert assets, html[:500]
    for asset in assets:
        assert asset.startswith("/static/"), asset


def test_the_site_root_leads_to_the_panel_or_the_admin(client):
    assert client.get("/").url == "/panel/"
    client.force_login(make_staff("rooted", "Job viewers"))
    assert client.get("/").url == "/admin/"
