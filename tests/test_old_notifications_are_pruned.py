"""Webhook deliveries (with their attempts), dead-letter digests (with their notes) and push messages older than
NOTIFICATIONS_KEEP_DAYS are deleted by the digest job; newer ones, and deliveries still being sent, stay;
a pruned digest's dead jobs are never told again."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from django.contrib.auth.models import User

from notifications.models import DeadLetterDigest, DeadLetterNote, PushMessage, WebhookAttempt, WebhookDelivery
from notifications.digests import dead_letter_digests_send
from notifications.services import notifications_prune, webhook_endpoint_create
from project.models import Guild

pytestmark = pytest.mark.django_db


def test_old_deliveries_and_digests_go_newer_ones_stay(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.NOTIFICATIONS_KEEP_DAYS = 30
    guild = Guild.objects.create(name="Mine", slug="mine")
    endpoint, _ = webhook_endpoint_create(guild=guild, url="https://93.184.215.14/h", events=["job.dead"])
    old, pending, new = (WebhookDelivery.objects.create(endpoint=endpoint, event="job.dead", payload={}, status=status)
                         for status in ("delivered", "pending", "failed"))
    WebhookAttempt.objects.create(delivery=old, number=1, response_status=200, elapsed_ms=5)
    WebhookDelivery.objects.filter(pk__in=[old.pk, pending.pk]).update(created_at=timezone.now() - timedelta(days=31))
    now = timezone.now()
    DeadLetterNote.objects.create(record_id=uuid.uuid4(), job_type="test.x", dead_at=now - timedelta(days=31))
    [old_digest] = dead_letter_digests_send(now=now - timedelta(days=31))
    DeadLetterNote.objects.create(record_id=uuid.uuid4(), job_type="test.y", dead_at=now)
    [new_digest] = dead_letter_digests_send(now=now)
    old_push, new_push = (PushMessage.objects.create(user=User.objects.create_user(f"p{n}"), title="t") for n in (1, 2))
    PushMessage.objects.filter(pk=old_push.pk).update(created_at=now - timedelta(days=31))

    assert notifications_prune(now=now) == {"deliveries": 1, "digests": 1, "push_messages": 1}
    assert list(PushMessage.objects.values_list("pk", flat=True)) == [new_push.pk]
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, new.pk}
    assert not WebhookAttempt.objects.exists()
    assert list(DeadLetterDigest.objects.values_list("pk", flat=True)) == [new_digest.pk]
    assert list(DeadLetterNote.objects.values_list("job_type", flat=True)) == ["test.y"]
    assert dead_letter_digests_send(now=now + timedelta(days=1)) == [], "nothing told twice"
