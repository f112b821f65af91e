"""When jobs go dead, staff hear of it once per job type per window, not once per job: a storm of 50
dead jobs of one type (and 2 of another) run by a real worker gives one signed digest per type to
QUEUE_DLQ_WEBHOOK and one e-mail per type to the QUEUE_DLQ_EMAILS list (a real SMTP server), with the
count, examples and the link to the dead-letter group in the admin. More dead jobs within the window
wait for the next one; two schedulers running the digest at once still send one per type. A guild's
endpoints subscribed to "job.dead" hear of its dead jobs."""

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from jobs import runner
from jobs.enqueue import enqueue, enqueue_many
from jobs.models import JobRecord, Status
from notifications import signing
from notifications.models import DeadLetterDigest, DeadLetterNote, WebhookDelivery
from notifications.digests import dead_letter_digests_send
from notifications.services import webhook_endpoint_create
from project.models import Guild
from tests.conftest import wait_for
from tests.notifications_fixtures import parts, requests_to, smtp_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "dlq-secret-0123456789abcdef"
DEFAULT_QUEUES = ("jdtest.default.high", "jdtest.default", "jdtest.default.low")


@pytest.fixture
def alerting(settings, httpserver):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.QUEUE_DLQ_WEBHOOK = httpserver.url_for("/dlq")
    settings.QUEUE_DLQ_WEBHOOK_SECRET = SECRET
    settings.QUEUE_DLQ_EMAILS = ["oncall@example.com", "ops@example.com"]
    settings.SITE_URL = "https://jobs.example.com"
    settings.NOTIFICATIONS_DLQ_DIGEST_SECONDS = 300
    httpserver.expect_request("/dlq").respond_with_data("ok")
    httpserver.expect_request("/guild-hook").respond_with_data("ok")
    return settings


def run_notification_jobs():
    """Run the queued notification jobs here, with this process's settings (the peers' addresses)."""
    for record_id in JobRecord.objects.filter(job_type__startswith="notifications.", status=Status.QUEUED).values_list(
            "pk", flat=True):
        runner._claim_and_run(record_id)


def dead(count):
    return lambda: JobRecord.objects.filter(job_type__startswith="test.", status=Status.DEAD).count() == count


def test_a_storm_of_dead_jobs_sends_one_digest_per_type(alerting, smtp_server, httpserver, start_worker):
    guild = Guild.objects.create(name="Mine", slug="mine")
    _, guild_secret = webhook_endpoint_create(guild=guild, url=httpserver.url_for("/guild-hook"), events=["job.dead"])
    with transaction.atomic():
        enqueue_many("test.permanent", [{"marker": f"storm-{i}"} for i in range(50)])
        enqueue_many("test.always_fails", [{"marker": "twice"}] * 2, guild=guild, backoff=0)
    start_worker(*DEFAULT_QUEUES)
    wait_for(dead(52), timeout=90, interval=0.2, message="52 dead jobs")
    assert DeadLetterNote.objects.filter(digest__isnull=True).count() == 52

    digests = dead_letter_digests_send()
    assert sorted((d.job_type, d.count) for d in digests) == [("test.always_fails", 2), ("test.permanent", 50)]
    assert dead_letter_digests_send() == [], "nothing new, and within the window"
    run_notification_jobs()

    posts = requests_to(httpserver, "/dlq")
    assert len(posts) == 2, "one per type, not one per job"
    bodies = {}
    for request in posts:
        signing.verify(SECRET, request.headers, request.get_data())
        body = json.loads(request.get_data())
        bodies[body["job_type"]] = body
    storm = bodies["test.permanent"]
    assert storm["count"] == 50 and len(storm["examples"]) == 5
    assert storm["examples"][0]["error_type"] == "jobs.errors.PermanentError" and storm["examples"][0]["error"] == "the target is gone"
    assert storm["dead_letters_url"] == ("https://jobs.example.com/admin/jobs/jobrecord/"
                                         "?status__exact=dead&job_type=test.permanent")
    assert storm["dead_letter_groups_url"] == "https://jobs.example.com/admin/jobs/jobrecord/dead-letters/"
    assert bodies["test.always_fails"]["examples"][0]["attempts"] == 3

    mails = smtp_server.received()
    assert len(mails) == 2
    subjects = sorted(message["Subject"] for _, message in mails)
    assert subjects == ["[jobdesk] 2 dead jobs of test.always_fails", "[jobdesk] 50 dead jobs of test.permanent"]
    for recipients, message in mails:
        assert sorted(recipients) == ["oncall@example.com", "ops@example.com"]
        text, html = parts(message)
        assert "/admin/jobs/jobrecord/?status__exact=dead&job_type=test." in text
        assert "/admin/jobs/jobrecord/?status__exact=dead&amp;job_type=test." in html

    # The guild heard of its own dead jobs (job.dead), one delivery each, signed.
    guild_posts = requests_to(httpserver, "/guild-hook")
    assert len(guild_posts) == 2
    for request in guild_posts:
        signing.verify(guild_secret, request.headers, request.get_data())
        data = json.loads(request.get_data())["data"]
        assert data["job_type"] == "test.always_fails" and data["error"] == "this job never works"
    assert WebhookDelivery.objects.filter(status="delivered").count() == 2

    # Another dead job within the window waits; after the window it goes, alone, in the next digest.
    with transaction.atomic():
        enqueue("test.permanent", {"marker": "late"})
    wait_for(dead(53), timeout=30, interval=0.2, message="one more dead job")
    assert dead_letter_digests_send() == []
    later = dead_letter_digests_send(now=timezone.now() + timedelta(seconds=301))
    assert [(d.job_type, d.count) for d in later] == [("test.permanent", 1)]


def test_two_schedulers_at_once_send_one_digest_per_type(alerting):
    now = timezone.now()
    DeadLetterNote.objects.bulk_create([
        DeadLetterNote(record_id=uuid.uuid4(), job_type=f"test.type{i % 3}", dead_at=now) for i in range(30)])
    barrier = threading.Barrier(4)
    results = []

    def scheduler():
        try:
            barrier.wait()
            results.append([(d.job_type, d.count) for d in dead_letter_digests_send()])
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    sent = sorted(item for result in results for item in result)
    assert sent == [("test.type0", 10), ("test.type1", 10), ("test.type2", 10)]
    assert DeadLetterDigest.objects.count() == 3 and not DeadLetterNote.objects.filter(digest__isnull=True).exists()
    assert JobRecord.objects.filter(job_type="notifications.dlq_webhook").count() == 3
    assert JobRecord.objects.filter(job_type="notifications.send_email").count() == 3


def test_the_scheduled_digest_job_sends_them(alerting):
    DeadLetterNote.objects.create(record_id=uuid.uuid4(), job_type="test.lonely", dead_at=timezone.now())
    alerting.QUEUE_DLQ_EMAILS = []
    with transaction.atomic():
        record = enqueue("notifications.dlq_digest", {})
    runner._claim_and_run(record.pk)
    record.refresh_from_db()
    assert record.status == Status.SUCCEEDED
    assert record.result["digests"] == [{"job_type": "test.lonely", "count": 1}]
    assert JobRecord.objects.filter(job_type="notifications.dlq_webhook").count() == 1
    assert not JobRecord.objects.filter(job_type="notifications.send_email").exists(), "no e-mail list, no e-mail"
