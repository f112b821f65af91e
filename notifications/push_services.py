"""Web Push services: browsers' subscriptions per person, and sends as jobs batched per person.

Promised: a subscription's endpoint is a public URL (``outbound.check_url``) and its keys a P-256 point
and 16 bytes; a person has at most ``MAX_PUSH_SUBSCRIPTIONS_PER_USER``; messages wait in the ledger and one
``notifications.send_push`` job per person sends what is waiting (unique per person, rate-limited by
``NOTIFICATIONS_PUSH_RATE``); ``404``/``410`` from a push service removes the subscription (audited). The
wire format is ``notifications.push``'s.
"""

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from jobs.enqueue import enqueue
from jobs.errors import JobError, PermanentError
from notifications import outbound
from notifications.models import PushMessage, PushSubscription

log = logging.getLogger(__name__)


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
    another user moves to this one when it comes with the same keys (the same browser, another person
    logged in); with other keys it is refused (``endpoint_taken``): knowing an endpoint is no proof."""
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
        held = PushSubscription.objects.select_for_update().filter(endpoint=endpoint).first()
        if held is not None and held.user_id != user.pk and (held.p256dh, held.auth) != (p256dh.strip(), auth.strip()):
            # The same browser, another person logged in, sends the keys it holds; other keys are someone
            # who learnt the endpoint and would turn its owner's pushes into noise only they can read.
            raise JobError("this endpoint is subscribed by another person with other keys", field="endpoint",
                           code="endpoint_taken")
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
