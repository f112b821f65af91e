"""The control panel shows guild admins words, not the ledger's internal names: a job reads as what it
does ("Webhook delivery", not ``notifications.deliver_webhook``; a type without a label keeps its name),
statuses are capitalised as the admin shows them, a delayed job says when it is scheduled for (in the
guild's zone), and the audit trail names resources in words ("job e24db604", "webhook endpoint 3")."""

from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from audit.services import audit_event_record
from jobs.enqueue import enqueue
from jobs.models import JobRecord, Status
from project.models import Guild

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(world):
    client = Client()
    client.force_login(world["admin"])
    return client


def job_row(html, job):
    return html.split(f'data-id="{job.pk}"')[1].split("</tr>")[0]


def test_jobs_read_as_what_they_do_with_capitalised_statuses(world, admin_client):
    jobs = {}
    for job_type, payload in [("notifications.deliver_webhook", {"delivery_id": 1}),
                              ("audit.record_event", None), ("branding.apply_to_shard", None)]:
        jobs[job_type] = JobRecord.objects.create(
            job_type=job_type, queue="default", payload=payload or {}, status=Status.DEAD, max_attempts=5,
            correlation_id="c", guild=world["mine"], created_at=timezone.now(), status_changed_at=timezone.now())
    own = enqueue("test.sleep", {"marker": "words", "seconds": 0}, guild=world["mine"])
    html = admin_client.get("/panel/mine/").content.decode()
    jobs_table = html.split('id="jobs"')[1].split("</table>")[0]
    for internal in jobs:
        assert internal not in jobs_table
    assert ">Webhook delivery<" in job_row(html, jobs["notifications.deliver_webhook"])
    assert ">Audit trail entry<" in job_row(html, jobs["audit.record_event"])
    assert ">Branding applied to a shard<" in job_row(html, jobs["branding.apply_to_shard"])
    assert ">Dead<" in job_row(html, jobs["audit.record_event"])
    assert ">test.sleep<" in job_row(html, own), "a type without a label keeps its name"
    own.refresh_from_db()
    assert f">{own.status.capitalize()}<" in job_row(html, own) and own.status.islower()


def test_a_delayed_job_says_when_it_is_scheduled_for_in_the_guilds_zone(world, admin_client):
    Guild.objects.filter(pk=world["mine"].pk).update(time_zone="Europe/Paris")
    run_at = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    job = enqueue("test.sleep", {"marker": "later", "seconds": 0}, guild=world["mine"], run_at=run_at)
    JobRecord.objects.filter(pk=job.pk).update(status=Status.QUEUED)
    html = admin_client.get("/panel/mine/").content.decode()
    paris = run_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Queued<span class=\"scheduled-for\">, scheduled for {paris}</span>" in job_row(html, job)

    JobRecord.objects.filter(pk=job.pk).update(run_at=timezone.now() - timedelta(minutes=1))
    assert "scheduled for" not in job_row(admin_client.get("/panel/mine/").content.decode(), job), \
        "a run time that has passed is not announced"


def test_audit_resources_read_as_words(world, admin_client):
    audit_event_record(action="job.dead", resource_type="job", resource_id="e24db604-1c8e-4b1e-9f3a-5d2b7c9e0a11",
                       guild=world["mine"])
    audit_event_record(action="webhook.created", resource_type="webhook_endpoint", resource_id=3,
                       actor=world["admin"], guild=world["mine"])
    html = admin_client.get("/panel/mine/audit/").content.decode()
    trail = html.split('id="audit-trail"')[1]
    assert ">job e24db604<" in trail and ">webhook endpoint 3<" in trail
    assert "job:" not in trail and "webhook_endpoint" not in trail


def test_a_fixed_moment_is_shown_to_the_second():
    from django.template import Context, Template

    moment = datetime(2026, 12, 7, 23, 27, 21, 429330, tzinfo=dt_timezone.utc)
    with timezone.override(ZoneInfo("Europe/Paris")):
        rendered = Template("{% load panel %}{{ a|when }} {{ b|when }}").render(
            Context({"a": moment, "b": moment.isoformat()}))
    assert rendered == "2026-12-08 00:27:21 2026-12-08 00:27:21"
