"""Dead-letter digests: when jobs go dead, one message per job type per
``NOTIFICATIONS_DLQ_DIGEST_SECONDS`` to ``QUEUE_DLQ_WEBHOOK`` (signed) and the staff e-mail list, instead
of one per job; the digest links to the dead-letter group in the admin.

Promised: exactly one digest per job type and window, decided by a compare-and-set, so two schedulers
running the digest at once send it once; the notes it tells are marked with it in the same transaction.
The digest's own sends go on the notifications domain's high-priority queue, so a backlog of guild webhook
deliveries does not hold them up, and their deaths are never told by another digest (a dead
``QUEUE_DLQ_WEBHOOK`` would otherwise feed itself): ``services.is_dead_letter_alert``.
"""

import json
import logging
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from jobs.enqueue import enqueue
from jobs.errors import PermanentError
from notifications import outbound, signing
from notifications.models import DeadLetterAlertState, DeadLetterDigest, DeadLetterNote
from notifications.services import DIGEST_CORRELATION_PREFIX, DeliveryFailed

log = logging.getLogger(__name__)

DIGEST_EXAMPLES = 5
ALERT_PRIORITY = "high"


def dead_letters_url(job_type: str) -> str:
    """The admin's job list filtered to the dead jobs of ``job_type`` (the dead-letter group)."""
    query = urlencode({"status__exact": "dead", "job_type": job_type})
    return f"{settings.SITE_URL}{reverse('admin:jobs_jobrecord_changelist')}?{query}"


def dead_letter_digests_send(*, now=None) -> list[DeadLetterDigest]:
    """For every job type with dead jobs not yet told, and no digest within the window: one digest of
    them all, sent to ``QUEUE_DLQ_WEBHOOK`` and ``QUEUE_DLQ_EMAILS`` by jobs enqueued with it.

    Exactly once per type and window: the type's ``DeadLetterAlertState`` row moves by compare-and-set
    (the second of two concurrent callers finds it moved and sends nothing), and the notes it gathers are
    marked with the digest in the same transaction."""
    now = now or timezone.now()
    window = timedelta(seconds=settings.NOTIFICATIONS_DLQ_DIGEST_SECONDS)
    digests = []
    pending = sorted(set(DeadLetterNote.objects.filter(digest__isnull=True).values_list("job_type", flat=True)))
    for job_type in pending:
        DeadLetterAlertState.objects.bulk_create([DeadLetterAlertState(job_type=job_type)], ignore_conflicts=True)
        with transaction.atomic():
            won = DeadLetterAlertState.objects.filter(job_type=job_type).filter(
                Q(last_sent_at__isnull=True) | Q(last_sent_at__lte=now - window)).update(last_sent_at=now)
            if not won:
                continue  # told within the window (or another scheduler is telling now)
            notes = list(DeadLetterNote.objects.filter(job_type=job_type, digest__isnull=True).order_by("dead_at"))
            if not notes:
                transaction.set_rollback(True)
                continue
            digest = DeadLetterDigest.objects.create(job_type=job_type, count=len(notes), created_at=now)
            DeadLetterNote.objects.filter(pk__in=[n.pk for n in notes]).update(digest=digest)
            digest.sent_to = _digest_dispatch(digest, notes)
            DeadLetterDigest.objects.filter(pk=digest.pk).update(sent_to=digest.sent_to)
        digests.append(digest)
    return digests


def digest_body(digest: DeadLetterDigest, notes=None) -> dict:
    """What a digest says: the type, how many, when, a few examples, and the links to the admin."""
    from jobs.models import JobRecord

    notes = notes if notes is not None else list(digest.notes.order_by("dead_at"))
    examples = []
    chosen = {n.record_id: n for n in notes[:DIGEST_EXAMPLES]}
    records = {r["id"]: r for r in JobRecord.objects.filter(pk__in=list(chosen)).values(
        "id", "guild_id", "correlation_id", "last_error_type", "last_error", "attempts")}
    for record_id, note in chosen.items():
        record = records.get(record_id, {})
        examples.append({
            "job_id": str(record_id), "dead_at": note.dead_at.isoformat(), "guild_id": note.guild_id,
            "correlation_id": record.get("correlation_id", ""), "attempts": record.get("attempts"),
            "error_type": record.get("last_error_type", ""), "error": (record.get("last_error") or "")[:300],
            "url": settings.SITE_URL + reverse("admin:jobs_jobrecord_change", args=[record_id]),
        })
    return {
        "event": "dead_letters.digest", "digest_id": digest.pk, "job_type": digest.job_type, "count": digest.count,
        "first_dead_at": notes[0].dead_at.isoformat() if notes else None,
        "last_dead_at": notes[-1].dead_at.isoformat() if notes else None,
        "window_seconds": settings.NOTIFICATIONS_DLQ_DIGEST_SECONDS, "examples": examples,
        "dead_letters_url": dead_letters_url(digest.job_type),
        "dead_letter_groups_url": settings.SITE_URL + reverse("admin:jobs_dead_letters"),
    }


def _digest_dispatch(digest, notes) -> list[str]:
    """Enqueue the digest's sends (in the digest's transaction): the webhook job and the staff e-mail, both
    at high priority so that they go before waiting guild webhook deliveries."""
    sent_to = []
    cid = f"{DIGEST_CORRELATION_PREFIX}{digest.pk}"
    if settings.QUEUE_DLQ_WEBHOOK:
        enqueue("notifications.dlq_webhook", {"digest_id": digest.pk}, correlation_id=cid, priority=ALERT_PRIORITY)
        sent_to.append("webhook")
    if settings.QUEUE_DLQ_EMAILS:
        enqueue("notifications.send_email", {"to": list(settings.QUEUE_DLQ_EMAILS), "template": "dead_letter_digest",
                                             "context": digest_body(digest, notes)}, correlation_id=cid,
                priority=ALERT_PRIORITY)
        sent_to.append("email")
    return sent_to


def dead_letter_digest_post(*, digest_id: int) -> dict:
    """Send a digest to ``QUEUE_DLQ_WEBHOOK``, signed with ``QUEUE_DLQ_WEBHOOK_SECRET`` (the
    ``notifications.dlq_webhook`` job); a failure is retried by the job."""
    digest = DeadLetterDigest.objects.filter(pk=digest_id).first()
    if digest is None or not settings.QUEUE_DLQ_WEBHOOK:
        return {"skipped": True}
    body = json.dumps(digest_body(digest), separators=(",", ":"), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "X-Jobdesk-Event": "dead_letters.digest",
               **signing.sign(settings.QUEUE_DLQ_WEBHOOK_SECRET, body)}
    try:
        answer = outbound.post(settings.QUEUE_DLQ_WEBHOOK, body, headers)
    except outbound.OutboundRefused as exc:
        raise PermanentError(f"QUEUE_DLQ_WEBHOOK refused: {exc}") from None
    except outbound.OutboundError as exc:
        raise DeliveryFailed(str(exc)) from None
    if not 200 <= answer.status < 300:
        raise DeliveryFailed(f"QUEUE_DLQ_WEBHOOK answered HTTP {answer.status}")
    return {"status": answer.status, "elapsed_ms": round(answer.elapsed_ms)}
