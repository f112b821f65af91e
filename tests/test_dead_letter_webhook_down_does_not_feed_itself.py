"""A dead-letter webhook that is down does not feed itself: the digest's webhook job dies (connection
refused, every attempt), the death is logged at ERROR once and shown in the admin as a dead job, but no
digest tells of it (it would go to the same dead webhook, one more per window for as long as it stays
down). The digest's sends go on the notifications high-priority queue, ahead of waiting guild webhook
deliveries."""

import logging
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import runner
from jobs.enqueue import enqueue
from jobs.errors import JobDied
from jobs.models import JobRecord, Status
from notifications.digests import dead_letter_digests_send
from notifications.models import DeadLetterDigest, DeadLetterNote
from tests.conftest import wait_for
from tests.notifications_fixtures import free_port, smtp_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)

DEFAULT_QUEUES = ("jdtest.default.high", "jdtest.default", "jdtest.default.low")


@pytest.fixture
def webhook_down(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.QUEUE_DLQ_WEBHOOK = f"http://127.0.0.1:{free_port()}/dlq"  # nothing listens there
    settings.QUEUE_DLQ_WEBHOOK_SECRET = "dlq-secret-0123456789abcdef"
    settings.SITE_URL = "https://jobs.example.com"
    settings.NOTIFICATIONS_DLQ_DIGEST_SECONDS = 300
    settings.NOTIFICATIONS_WEBHOOK_BACKOFF = 0
    return settings


def run_until_done(record):
    """Run the record's attempts here, with this process's settings, until it is dead or succeeded."""
    for _ in range(record.max_attempts + 1):
        try:
            runner._claim_and_run(record.pk)
        except JobDied:  # the last attempt failed: raised for RQ, the record is dead
            pass
        record.refresh_from_db()
        if record.status in (Status.DEAD, Status.SUCCEEDED):
            return record
    raise AssertionError(f"{record.pk} is still {record.status}")


def test_a_dead_dlq_webhook_is_not_told_to_itself(webhook_down, smtp_server, start_worker, caplog):
    webhook_down.QUEUE_DLQ_EMAILS = ["oncall@example.com"]
    with transaction.atomic():
        enqueue("test.permanent", {"marker": "goes-dead"})
    start_worker(*DEFAULT_QUEUES)
    wait_for(lambda: JobRecord.objects.filter(job_type="test.permanent", status=Status.DEAD).exists(), timeout=60,
             interval=0.2, message="the job dies")

    [digest] = dead_letter_digests_send()
    assert digest.job_type == "test.permanent" and sorted(digest.sent_to) == ["email", "webhook"]
    post = JobRecord.objects.get(job_type="notifications.dlq_webhook")
    mail = JobRecord.objects.get(job_type="notifications.send_email")
    with caplog.at_level(logging.INFO):
        post = run_until_done(post)
        mail = run_until_done(mail)
    assert post.status == Status.DEAD and post.attempts == post.max_attempts == 5
    assert mail.status == Status.SUCCEEDED and len(smtp_server.received()) == 1

    told = [r for r in caplog.records if r.levelno == logging.ERROR and str(post.pk) in r.getMessage()]
    assert len(told) == 1, "logged at ERROR, once"
    assert any("not told by another digest" in r.getMessage() for r in caplog.records if str(post.pk) in r.getMessage())
    assert not DeadLetterNote.objects.filter(record_id=post.pk).exists()
    # The next digest ticks, after the window too, send nothing about the dead webhook job.
    assert dead_letter_digests_send() == []
    assert dead_letter_digests_send(now=timezone.now() + timedelta(seconds=301)) == []
    assert list(DeadLetterDigest.objects.values_list("job_type", flat=True)) == ["test.permanent"]
    assert JobRecord.objects.filter(job_type="notifications.dlq_webhook").count() == 1
    assert JobRecord.objects.filter(job_type="notifications.send_email").count() == 1


def test_a_dead_digest_email_is_not_told_but_other_dead_emails_are(webhook_down):
    webhook_down.QUEUE_DLQ_WEBHOOK = ""
    webhook_down.QUEUE_DLQ_EMAILS = ["oncall@example.com"]
    webhook_down.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    webhook_down.EMAIL_HOST, webhook_down.EMAIL_PORT = "127.0.0.1", free_port()  # no SMTP server there
    webhook_down.EMAIL_USE_TLS = False
    webhook_down.NOTIFICATIONS_EMAIL_BACKOFF = 0
    DeadLetterNote.objects.create(record_id="00000000-0000-0000-0000-000000000001", job_type="test.permanent",
                                  dead_at=timezone.now())
    [digest] = dead_letter_digests_send()
    with transaction.atomic():
        other = enqueue("notifications.send_email", {"to": ["someone@example.com"], "template": "dead_letter_digest",
                                                     "context": {}})
    digest_mail = JobRecord.objects.get(job_type="notifications.send_email", correlation_id=f"dlq-digest-{digest.pk}")
    assert run_until_done(digest_mail).status == Status.DEAD
    assert run_until_done(other).status == Status.DEAD
    assert not DeadLetterNote.objects.filter(record_id=digest_mail.pk).exists()
    assert DeadLetterNote.objects.filter(record_id=other.pk).exists(), "an ordinary dead e-mail is still told"


def test_the_digest_sends_go_ahead_of_waiting_webhook_deliveries(webhook_down):
    webhook_down.QUEUE_DLQ_EMAILS = ["oncall@example.com"]
    with transaction.atomic():
        waiting = enqueue("notifications.deliver_webhook", {"delivery_id": 1})
    DeadLetterNote.objects.create(record_id="00000000-0000-0000-0000-000000000002", job_type="test.permanent",
                                  dead_at=timezone.now())
    dead_letter_digests_send()
    sends = JobRecord.objects.filter(job_type__in=["notifications.dlq_webhook", "notifications.send_email"])
    assert sorted((r.queue, r.priority) for r in sends) == [("jdtest.notifications.high", "high")] * 2
    assert (waiting.queue, waiting.priority) == ("jdtest.notifications", "default")


def test_the_digest_job_goes_on_the_high_queue_by_its_declaration():
    """``notifications.dlq_digest`` declares ``priority="high"``: its schedule names no priority, and its runs
    land on the high queue, ahead of waiting webhook deliveries; a caller may still name another level."""
    digest = enqueue("notifications.dlq_digest", {})
    assert (digest.queue, digest.priority) == ("jdtest.notifications.high", "high")
    JobRecord.objects.filter(pk=digest.pk).delete()  # its key is unique while waiting
    assert enqueue("notifications.dlq_digest", {}, priority="low").queue == "jdtest.notifications.low"
