"""Writes and rules of notifications: webhook endpoints, events and their deliveries, e-mail jobs, the
reactions to jobs (export ready, job dead) and pruning. Dead-letter digests are ``notifications.digests``,
Web Push ``notifications.push_services``.

Promises:
- a URL is refused when it is not public (``outbound.check_url``) at save time, and again when sent;
- ``event_publish`` writes one delivery (and its job) per enabled endpoint of the guild subscribed to
  the event, in the caller's transaction: a rolled-back event sends nothing;
- a delivery is signed (``notifications.signing``) with its endpoint's secret, each attempt is kept
  with the answer's status and time; ``410 Gone`` disables the endpoint and says why; a redirect is
  never followed; an internal address at delivery time is a permanent failure;
"""

import json
import logging
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import get_template
from django.template import TemplateDoesNotExist
from django.urls import reverse
from django.utils import timezone

from jobs.enqueue import enqueue
from jobs.errors import JobError, PermanentError
from notifications import outbound, signing
from notifications.models import (
    EVENTS, DeadLetterDigest, DeadLetterNote, PushMessage, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
)
from notifications.push_services import push_notify
from project.text import storable

log = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_GUILD = 20
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
    # The job's error is read by every member of the guild: it names the endpoint and the kind of failure,
    # not the host or the address it resolved to; the delivery's attempts (admins, staff) keep the detail.
    except outbound.OutboundRefused as exc:
        _attempt(delivery, attempt, error=f"refused: {exc}")
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        raise PermanentError(f"webhook endpoint {endpoint.pk}: refused, not an address jobdesk may call "
                             f"(delivery {delivery.pk})") from None
    except outbound.OutboundError as exc:
        _attempt(delivery, attempt, error=str(exc))
        if last:
            _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        raise DeliveryFailed(f"webhook endpoint {endpoint.pk}: no answer (delivery {delivery.pk})") from None
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
        # not the URL either: a URL often carries the receiver's secret in its path
        raise PermanentError(f"410 Gone: webhook endpoint {endpoint.pk} disabled (delivery {delivery.pk})")
    if 300 <= status < 400:
        where = answer.headers.get("location", "")
        _attempt(delivery, attempt, status=status, elapsed_ms=elapsed,
                 error=f"redirects are not followed (to {where[:300]})" if where else "redirects are not followed")
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
        raise PermanentError(f"webhook endpoint {endpoint.pk}: HTTP {status}, redirects are not followed")
    _attempt(delivery, attempt, status=status, elapsed_ms=elapsed, error=f"HTTP {status} {answer.reason}"[:500])
    if last:
        _delivery_end(delivery, WebhookDelivery.Status.FAILED)
    raise DeliveryFailed(f"webhook endpoint {endpoint.pk}: HTTP {status}")


def _attempt(delivery, number, *, status=None, elapsed_ms=None, error=""):
    WebhookAttempt.objects.create(delivery=delivery, number=number, response_status=status, elapsed_ms=elapsed_ms,
                                  error=storable(error[:500]))  # a receiver's answer may hold a NUL


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


# The correlation ID of a dead-letter digest's e-mail (``digests``): how its death is told from another e-mail's.
DIGEST_CORRELATION_PREFIX = "dlq-digest-"


def is_dead_letter_alert(job_type: str, correlation_id: str) -> bool:
    """Whether a job is one of a digest's own sends: the ``notifications.dlq_webhook`` job, or the
    ``notifications.send_email`` job carrying a digest (told apart from other e-mails by its correlation ID)."""
    return job_type == "notifications.dlq_webhook" or (
        job_type == "notifications.send_email" and (correlation_id or "").startswith(DIGEST_CORRELATION_PREFIX))


def job_dead(*, change):
    """A job went dead: noted for the dead-letter digest, and published as "job.dead" to its guild.

    A dead-letter digest's own send (``is_dead_letter_alert``) is not noted: its digest would go to
    the same failing webhook and die in turn, one more per window for as long as it stays down. Its death
    is logged at ERROR once (by the runner, as for any dead job) and it stays a dead job in the admin."""
    if is_dead_letter_alert(change.job_type, change.correlation_id):
        log.info("dead-letter alert job %s (%s, %s) went dead: %s; not told by another digest",
                  change.record_id, change.job_type, change.correlation_id, change.reason or "attempts exhausted")
        return
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
