"""Writes and rules of notifications: webhook endpoints, events and their deliveries, e-mail jobs, and
dead-letter digests.

Promises:
- a URL is refused when it is not public (``outbound.check_url``) at save time, and again when sent;
- ``event_publish`` writes one delivery (and its job) per enabled endpoint of the guild subscribed to
  the event, in the caller's transaction: a rolled-back event sends nothing;
- a delivery is signed (``notifications.signing``) with its endpoint's secret, each attempt is kept
  with the answer's status and time; ``410 Gone`` disables the endpoint and says why; a redirect is
  never followed; an internal address at delivery time is a permanent failure;
- one dead-letter digest per job type per ``NOTIFICATIONS_DLQ_DIGEST_SECONDS``, decided by a
  compare-and-set, so two schedulers running the digest at once send it once.
"""

import json
import logging
import re
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.template.loader import get_template
from django.template import TemplateDoesNotExist
from django.urls import reverse
from django.utils import timezone

from jobs.enqueue import enqueue
from jobs.errors import JobError, PermanentError
from notifications import outbound, signing
from notifications.models import (
    EVENTS, DeadLetterAlertState, DeadLetterDigest, DeadLetterNote, PushMessage, PushSubscription, WebhookAttempt,
    WebhookDelivery, WebhookEndpoint,
)

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_GUILD = 20
DIGEST_EXAMPLES = 5
# Job types whose death is not published as "job.dead" to the guild's webhooks: a failing delivery
# would otherwise announce itself to the endpoint that fails, for ever.
NOT_PUBLISHED_WHEN_DEAD = ("notifications.",)


class DeliveryFailed(Exception):
    """A delivery attempt got no answer or an answer that is not 2xx: retried with backoff."""


# --- Webhook endpoints --------------------------------------------------------------------------------

def url_check(url: str) -> str:
    """The URL, stripped, if it may be saved; else ``JobError`` naming ``url``."""
    url = (url or "").strip()
    if not url:
        raise JobError("give the endpoint's URL", field="url")
    if len(url) > 500:
        raise JobError("the URL is longer than 500 characters", field="url")
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise JobError(f"this URL may not be used: {exc}", field="url", code="url_refused") from None
    return url


def events_check(events) -> list[str]:
    events = list(dict.fromkeys(events or []))
    if not events:
        raise JobError("subscribe to at least one event", field="events")
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise JobError(f"unknown event {unknown[0]!r} (known: {', '.join(EVENTS)})", field="events")
    return events


@transaction.atomic
def webhook_endpoint_create(*, guild, url, events, created_by=None) -> tuple[WebhookEndpoint, str]:
    """Check and save an endpoint; returns it with its secret, which is shown to the user once."""
    url, events = url_check(url), events_check(events)
    if WebhookEndpoint.objects.filter(guild=guild).count() >= MAX_ENDPOINTS_PER_GUILD:
        raise JobError(f"a guild may have at most {MAX_ENDPOINTS_PER_GUILD} webhook endpoints", field="url")
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(guild=guild, url=url, events=events, secret=secret,
                                              created_by=created_by)
    _audit("webhook.created", endpoint, actor=created_by, data={"url": url, "events": events})
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor=None, url=None, events=None, enabled=None):
    """Change an endpoint's URL, events or enabled flag (re-enabling clears the reason it was disabled)."""
    if url is not None:
        endpoint.url = url_check(url)
    if events is not None:
        endpoint.events = events_check(events)
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        if enabled:
            endpoint.disabled_reason, endpoint.disabled_at = "", None
        else:
            endpoint.disabled_reason = endpoint.disabled_reason or "disabled by a person"
            endpoint.disabled_at = timezone.now()
    endpoint.save()
    _audit("webhook.updated", endpoint, actor=actor, data={"url": endpoint.url, "events": endpoint.events,
                                                           "enabled": endpoint.enabled})
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor=None):
    """Delete an endpoint and its deliveries; deliveries still waiting find it gone and do nothing."""
    _audit("webhook.deleted", endpoint, actor=actor, data={"url": endpoint.url})
    endpoint.delete()


def _audit(action, endpoint, *, actor, data):
    from audit.services import audit_event_record

    audit_event_record(action=action, resource_type="webhook_endpoint", resource_id=endpoint.pk, actor=actor,
                       guild=endpoint.guild_id, data=data)


# --- Events and deliveries -------------------------------------------------------------------------------

def event_publish(*, guild, event: str, data: dict, correlation_id=None, actor=None) -> list[WebhookDelivery]:
    """Queue ``event`` (one of ``models.EVENTS``) with ``data`` (JSON) for every enabled endpoint of
    ``guild`` (a Guild or its id) subscribed to it; in the caller's transaction. Returns the deliveries."""
    if event not in EVENTS:
        raise JobError(f"unknown event {event!r}", field="event")
    guild_id = getattr(guild, "pk", guild)
    endpoints = [e for e in WebhookEndpoint.objects.filter(guild_id=guild_id, enabled=True) if event in e.events]
    deliveries = []
    if not endpoints:
        return deliveries
    from uuid import uuid4

    payload = {"event": event, "guild_id": guild_id, "created_at": timezone.now().isoformat(), "data": data}
    with transaction.atomic():
        for endpoint in endpoints:
            delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, job_id=uuid4(), payload=payload)
            enqueue("notifications.deliver_webhook", {"delivery_id": delivery.pk}, guild=guild_id, actor=actor,
                    correlation_id=correlation_id, job_id=delivery.job_id)
            deliveries.append(delivery)
    return deliveries


def webhook_body(delivery: WebhookDelivery) -> bytes:
    """The bytes sent (the same at every attempt): the delivery's id, event, guild, time and data."""
    return json.dumps({"id": delivery.pk, **delivery.payload}, separators=(",", ":"), sort_keys=True).encode()


def webhook_deliver(*, delivery_id: int, attempt: int, last: bool) -> dict:
    """One attempt of a delivery (the ``notifications.deliver_webhook`` job): sign, send, record.

    Returns a summary on a 2xx (or when there is nothing left to do); raises ``DeliveryFailed`` to be
    retried, ``PermanentError`` when retrying cannot help (410, a redirect, an internal address)."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return {"skipped": "the endpoint was deleted"}
    if delivery.status != WebhookDelivery.Status.PENDING:
        return {"skipped": f"already {delivery.status}"}
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        return {"skipped": f"the endpoint is disabled: {endpoint.disabled_reason}"}
    body = webhook_body(delivery)
    headers = {"Content-Type": "application/json", "X-Jobdesk-Event": delivery.event,
               "X-Jobdesk-Delivery": str(delivery.pk), **signing.sign(endpoint.secret, body)}
    try:
        answer = outbound.post(endpoint.url, body, headers)
    except outbound.OutboundRefused as exc:
        _attempt(delivery, attempt, error=f"refused: {exc}")
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        raise PermanentError(f"refused: {exc}") from None
    except outbound.OutboundError as exc:
        _attempt(delivery, attempt, error=str(exc))
        if last:
            _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        raise DeliveryFailed(str(exc)) from None
    status, elapsed = answer.status, round(answer.elapsed_ms)
    if 200 <= status < 300:
        _attempt(delivery, attempt, status=status, elapsed_ms=elapsed)
        _delivery_end(delivery, WebhookDelivery.Status.DELIVERED)
        return {"status": status, "elapsed_ms": elapsed}
    if status == 410:
        reason = f"410 Gone from {endpoint.url} at {timezone.now():%Y-%m-%d %H:%M:%S} UTC (delivery {delivery.pk})"
        _attempt(delivery, attempt, status=status, elapsed_ms=elapsed, error="410 Gone: endpoint disabled")
        with transaction.atomic():
            WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
                enabled=False, disabled_reason=reason, disabled_at=timezone.now())
            _delivery_end(delivery, WebhookDelivery.Status.FAILED)
            _audit("webhook.disabled", endpoint, actor=None, data={"reason": reason})
        raise PermanentError(reason)
    if 300 <= status < 400:
        where = answer.headers.get("location", "")
        _attempt(delivery, attempt, status=status, elapsed_ms=elapsed,
                 error=f"redirects are not followed (to {where[:300]})" if where else "redirects are not followed")
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        raise PermanentError(f"HTTP {status}: redirects are not followed")
    _attempt(delivery, attempt, status=status, elapsed_ms=elapsed, error=f"HTTP {status} {answer.reason}"[:500])
    if last:
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
    raise DeliveryFailed(f"HTTP {status}")


def _attempt(delivery, number, *, status=None, elapsed_ms=None, error=""):
    WebhookAttempt.objects.create(delivery=delivery, number=number, response_status=status, elapsed_ms=elapsed_ms,
                                  error=error[:500])


def _delivery_end(delivery, status):
    WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.PENDING).update(
        status=status, finished_at=timezone.now())


# --- E-mail -------------------------------------------------------------------------------------------

TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")


def email_template_check(template: str) -> str:
    if not TEMPLATE_NAME.fullmatch(template or ""):
        raise JobError(f"{template!r} is not a template name", field="template")
    for part in ("txt", "html", "subject.txt"):
        try:
            get_template(f"notifications/email/{template}.{part}")
        except TemplateDoesNotExist:
            raise JobError(f"no e-mail template notifications/email/{template}.{part}", field="template") from None
    return template


def email_send(*, to: list[str], template: str, context: dict, guild=None, actor=None, correlation_id=None):
    """Queue an e-mail (the ``notifications.send_email`` job) rendered from
    ``templates/notifications/email/<template>.{subject.txt,txt,html}`` with ``context`` (JSON)."""
    email_template_check(template)
    return enqueue("notifications.send_email", {"to": list(to), "template": template, "context": context},
                   guild=guild, actor=actor, correlation_id=correlation_id)


def email_render_and_send(*, to, template, context) -> int:
    """Render the template pair and send it through Django's e-mail backend (the job's body)."""
    from django.core.mail import EmailMultiAlternatives

    context = {**context, "site_url": settings.SITE_URL}
    subject = " ".join(get_template(f"notifications/email/{template}.subject.txt").render(context).split())
    text = get_template(f"notifications/email/{template}.txt").render(context)
    html = get_template(f"notifications/email/{template}.html").render(context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to)
    message.attach_alternative(html, "text/html")
    return message.send()


# --- Reactions to jobs (called by notifications.receivers, inside the job's transaction) -------------

def export_ready(*, record_id, correlation_id):
    """An ``exports.generate`` job succeeded: the "export.ready" event and the requester's e-mail."""
    from exports.models import Export

    export = Export.objects.select_related("guild", "requested_by").filter(job_id=record_id).first()
    if export is None:
        return
    panel = settings.SITE_URL + reverse("panel:guild", args=[export.guild.slug])
    data = {"export_id": export.pk, "format": export.format, "start": export.start.isoformat(),
            "end": export.end.isoformat(), "rows": export.rows, "size": export.size, "job_id": str(record_id),
            "panel_url": panel}
    event_publish(guild=export.guild_id, event="export.ready", data=data, correlation_id=correlation_id,
                  actor=export.requested_by_id)
    user = export.requested_by
    if user is not None:
        push_notify(user=user, title=f"Your {export.get_format_display()} export is ready",
                    body=f"{export.guild.name}: {export.rows} rows, {export.start:%Y-%m-%d} to {export.end:%Y-%m-%d}",
                    url=panel, correlation_id=correlation_id)
    if user is not None and user.email:
        email_send(to=[user.email], template="export_ready", guild=export.guild_id, actor=user.pk,
                   correlation_id=correlation_id,
                   context={**data, "guild": export.guild.name, "user": user.get_username(),
                            "format_name": export.get_format_display()})


def job_dead(*, change):
    """A job went dead: noted for the dead-letter digest, and published as "job.dead" to its guild."""
    now = timezone.now()
    DeadLetterNote.objects.create(record_id=change.record_id, job_type=change.job_type, guild_id=change.guild_id,
                                  dead_at=now)
    if change.guild_id is None or change.job_type.startswith(NOT_PUBLISHED_WHEN_DEAD):
        return
    if not any("job.dead" in e.events for e in WebhookEndpoint.objects.filter(guild_id=change.guild_id, enabled=True)):
        return
    from jobs.models import JobRecord

    error = JobRecord.objects.filter(pk=change.record_id).values("last_error_type", "last_error", "attempts").first() or {}
    event_publish(guild=change.guild_id, event="job.dead", correlation_id=change.correlation_id, data={
        "job_id": str(change.record_id), "job_type": change.job_type, "correlation_id": change.correlation_id,
        "attempts": error.get("attempts"), "error_type": error.get("last_error_type", ""),
        "error": (error.get("last_error") or "")[:500], "reason": change.reason,
    })


# --- Dead-letter digests --------------------------------------------------------------------------------

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


PRUNE_BATCH = 2000


def notifications_prune(*, now=None) -> dict:
    """Delete webhook deliveries (with their attempts), dead-letter digests (with their notes) and push
    messages older than ``NOTIFICATIONS_KEEP_DAYS``, at most ``PRUNE_BATCH`` of each per call (short statements; the
    digest job calls it every minute, so a backlog goes down steadily)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.NOTIFICATIONS_KEEP_DAYS)
    deliveries = list(WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(
        status=WebhookDelivery.Status.PENDING).values_list("pk", flat=True)[:PRUNE_BATCH])
    digests = list(DeadLetterDigest.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
    messages = list(PushMessage.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
    WebhookDelivery.objects.filter(pk__in=deliveries).delete()
    DeadLetterDigest.objects.filter(pk__in=digests).delete()
    PushMessage.objects.filter(pk__in=messages).delete()
    return {"deliveries": len(deliveries), "digests": len(digests), "push_messages": len(messages)}


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
    """Enqueue the digest's sends (in the digest's transaction): the webhook job and the staff e-mail."""
    sent_to = []
    cid = f"dlq-digest-{digest.pk}"
    if settings.QUEUE_DLQ_WEBHOOK:
        enqueue("notifications.dlq_webhook", {"digest_id": digest.pk}, correlation_id=cid)
        sent_to.append("webhook")
    if settings.QUEUE_DLQ_EMAILS:
        enqueue("notifications.send_email", {"to": list(settings.QUEUE_DLQ_EMAILS), "template": "dead_letter_digest",
                                             "context": digest_body(digest, notes)}, correlation_id=cid)
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


# --- Web Push -------------------------------------------------------------------------------------------

class PushFailed(Exception):
    """A push service answered 429 or 5xx, or did not answer, for some subscription: retried with backoff
    (the retry sends only to the subscriptions that did not get the batch)."""


MAX_PUSH_SUBSCRIPTIONS_PER_USER = 20
PUSH_BATCH_MESSAGES = 20


def _b64url(value, *, field, size, what):
    from notifications.vapid_keys import b64url_decode

    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise JobError(f"give the subscription's {what} (base64url)", field=field)
    try:
        raw = b64url_decode(value)
    except (ValueError, TypeError):
        raise JobError(f"the {what} is not base64url", field=field) from None
    if len(raw) != size:
        raise JobError(f"the {what} must be {size} bytes, got {len(raw)}", field=field)
    return raw


def push_subscription_save(*, user, endpoint, p256dh, auth, user_agent="") -> PushSubscription:
    """Save (or renew) a browser's subscription for ``user``: the endpoint must be a URL that may be
    called (``outbound.check_url``), ``p256dh`` a P-256 public point and ``auth`` 16 bytes, both
    base64url. ``JobError`` names ``endpoint``, ``keys.p256dh`` or ``keys.auth``. An endpoint saved by
    another user moves to this one (the browser is the one that subscribed last)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if not push_enabled():
        raise JobError("push notifications are off on this server (VAPID keys are not set)", code="push_disabled")
    endpoint = (endpoint or "").strip() if isinstance(endpoint, str) else ""
    if not endpoint:
        raise JobError("give the subscription's endpoint URL", field="endpoint")
    if len(endpoint) > 1000:
        raise JobError("the endpoint URL is longer than 1000 characters", field="endpoint")
    try:
        outbound.check_url(endpoint)
    except outbound.OutboundRefused as exc:
        raise JobError(f"this endpoint may not be used: {exc}", field="endpoint", code="url_refused") from None
    point = _b64url(p256dh, field="keys.p256dh", size=65, what="p256dh key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise JobError("the p256dh key is not a P-256 public key", field="keys.p256dh") from None
    _b64url(auth, field="keys.auth", size=16, what="auth secret")
    with transaction.atomic():
        if (PushSubscription.objects.filter(user=user).exclude(endpoint=endpoint).count()
                >= MAX_PUSH_SUBSCRIPTIONS_PER_USER):
            raise JobError(f"a person may have at most {MAX_PUSH_SUBSCRIPTIONS_PER_USER} push subscriptions",
                           field="endpoint", code="too_many")
        subscription, _ = PushSubscription.objects.update_or_create(endpoint=endpoint, defaults={
            "user": user, "p256dh": p256dh.strip(), "auth": auth.strip(), "user_agent": (user_agent or "")[:300],
            "last_job_id": None})
    return subscription


def push_subscription_delete(*, user, endpoint) -> bool:
    """Forget ``user``'s subscription at ``endpoint``; False when they have none there."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=(endpoint or "").strip()).delete()
    return bool(deleted)


def push_enabled() -> bool:
    from notifications import push

    return push.enabled()


def push_notify(*, user, title, body="", url="", correlation_id=None) -> PushMessage | None:
    """Tell ``user``'s subscribed browsers: the message is kept, and one ``notifications.send_push`` job per
    user sends what is waiting in one push per browser (messages written before that job starts go
    together). Nothing when push is off or the user has no subscription. The job is enqueued once the
    caller's transaction commits (a job that is already waiting then takes this message with the others)."""
    user_id = getattr(user, "pk", user)
    if not push_enabled() or not PushSubscription.objects.filter(user_id=user_id).exists():
        return None
    message = PushMessage.objects.create(user_id=user_id, title=str(title)[:100], body=str(body)[:500],
                                         url=str(url)[:500])
    transaction.on_commit(lambda: _push_enqueue(user_id, correlation_id), robust=True)
    return message


def _push_enqueue(user_id, correlation_id=None):
    return enqueue("notifications.send_push", {"user_id": user_id}, actor=user_id, correlation_id=correlation_id)


PUSH_SWEEP_AFTER = timedelta(seconds=60)


def push_messages_sweep(*, now=None) -> int:
    """Enqueue the push job of every user with a message that no job took a minute after it was written
    (its enqueue, after the caller's commit, was lost to a crash); the unique job takes them all.
    Run every minute by the dead-letter digest job. Returns how many users."""
    if not push_enabled():
        return 0
    before = (now or timezone.now()) - PUSH_SWEEP_AFTER
    users = list(PushMessage.objects.filter(job_id__isnull=True, created_at__lt=before)
                 .values_list("user_id", flat=True).distinct()[:1000])
    for user_id in users:
        _push_enqueue(user_id)
    return len(users)


def _push_message(message):
    return {"title": message.title, "body": message.body, "url": message.url, "at": message.created_at.isoformat()}


def _push_batch(user_id, record_id):
    """The messages of job ``record_id``: those it took at an earlier attempt, else the user's oldest
    waiting ones that fit in one push, taken now (a concurrent job cannot take the same)."""
    from notifications.push import MAX_PLAINTEXT

    batch = list(PushMessage.objects.filter(job_id=record_id).order_by("pk"))
    if batch:
        return batch
    chosen, size = [], len(b'{"messages":[]}')
    for message in PushMessage.objects.filter(user_id=user_id, job_id__isnull=True).order_by("pk")[:PUSH_BATCH_MESSAGES]:
        size += len(json.dumps(_push_message(message), separators=(",", ":")).encode()) + 1
        if chosen and size > MAX_PLAINTEXT:
            break
        chosen.append(message.pk)
    PushMessage.objects.filter(pk__in=chosen, job_id__isnull=True).update(job_id=record_id)
    return list(PushMessage.objects.filter(job_id=record_id).order_by("pk"))


def push_batch_send(*, user_id: int, record_id, attempt: int) -> dict:
    """The ``notifications.send_push`` job: one push of the user's waiting messages to each of their
    browsers. 2xx: delivered; 404/410: the browser is gone, its subscription deleted (audited); 429, 5xx or
    no answer: ``PushFailed`` (retried, to the browsers that did not get it); any other answer is logged
    and not retried. Messages left for a later push get a job of their own."""
    from notifications import push

    if not push.enabled():
        raise PermanentError("push notifications are off: VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are not set")
    batch = _push_batch(user_id, record_id)
    if PushMessage.objects.filter(user_id=user_id, job_id__isnull=True).exists():
        _push_enqueue(user_id)  # more than one push holds: the next batch
    if not batch:
        return {"messages": 0}
    data = json.dumps({"messages": [_push_message(m) for m in batch]}, separators=(",", ":")).encode()
    outcome = {"messages": len(batch), "sent": 0, "removed": 0, "failed": 0, "retry": 0}
    retry = []
    for subscription in PushSubscription.objects.filter(user_id=user_id).exclude(last_job_id=record_id).order_by("pk"):
        try:
            answer = push.send(subscription, data)
        except outbound.OutboundRefused as exc:
            log.warning("push to subscription %s refused: %s", subscription.pk, exc)
            outcome["failed"] += 1
            continue
        except outbound.OutboundError as exc:
            retry.append(f"{push.audience(subscription.endpoint)}: {exc}")
            continue
        status = answer.status
        if 200 <= status < 300:
            PushSubscription.objects.filter(pk=subscription.pk).update(last_success=timezone.now(), last_job_id=record_id)
            outcome["sent"] += 1
        elif status in (404, 410):
            _push_subscription_gone(subscription, status)
            outcome["removed"] += 1
        elif status == 429 or status >= 500:
            retry.append(f"{push.audience(subscription.endpoint)}: HTTP {status}")
        else:
            log.warning("push to subscription %s: HTTP %s %s (not retried)", subscription.pk, status,
                        answer.body[:200].decode(errors="replace"))
            outcome["failed"] += 1
    if retry:
        outcome["retry"] = len(retry)
        raise PushFailed(f"attempt {attempt}: {len(retry)} push(es) to retry ({'; '.join(retry)[:400]}); {outcome}")
    return outcome


def _push_subscription_gone(subscription, status):
    from audit.services import audit_event_record

    log.info("push subscription %s of user %s removed: the push service answered %s", subscription.pk,
             subscription.user_id, status)
    with transaction.atomic():
        PushSubscription.objects.filter(pk=subscription.pk).delete()
        audit_event_record(action="push_subscription.removed", resource_type="push_subscription",
                           resource_id=subscription.pk, data={"status": status, "user_id": subscription.user_id,
                                                              "endpoint": subscription.endpoint[:200]})
