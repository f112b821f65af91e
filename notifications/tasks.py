"""Notification job types: webhook deliveries, e-mails, Web Push batches, dead-letter digests. All internal: only
jobdesk's own code enqueues them (``notifications.services``)."""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pydantic import BaseModel, Field, field_validator

from jobs.backoff import Exponential
from jobs.ratelimit import RateLimit
from jobs.registry import job_type
from jobs.unique import Unique


@dataclass(frozen=True)
class SettingBackoff:
    """Exponential (``NOTIFICATIONS_WEBHOOK_BACKOFF`` seconds, doubling, capped at an hour) or fixed
    (``NOTIFICATIONS_EMAIL_BACKOFF``) with the setting read when a retry is scheduled."""

    setting: str
    exponential: bool = True

    def __call__(self, attempt: int) -> float:
        base = getattr(settings, self.setting)
        if self.exponential:
            return Exponential(base=base, factor=2, cap=3600, jitter=True)(attempt)
        return float(base)


class DeliverWebhook(BaseModel):
    delivery_id: int = Field(ge=1)


@job_type("notifications.deliver_webhook", payload=DeliverWebhook, queue="notifications", max_attempts=5,
          backoff=SettingBackoff("NOTIFICATIONS_WEBHOOK_BACKOFF"), timeout=120)
def deliver_webhook(payload: DeliverWebhook, ctx):
    """One attempt of a signed webhook delivery; each attempt's answer and time are kept on the delivery."""
    from notifications.services import webhook_deliver

    return webhook_deliver(delivery_id=payload.delivery_id, attempt=ctx.attempt, last=ctx.is_last_attempt)


class SendEmail(BaseModel):
    to: list[str] = Field(min_length=1, max_length=100)
    template: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    context: dict = Field(default_factory=dict)

    @field_validator("to")
    @classmethod
    def addresses(cls, value):
        for address in value:
            if "@" not in address or len(address) > 254 or any(c in address for c in " \r\n,<>"):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


@job_type("notifications.send_email", payload=SendEmail, queue="notifications", max_attempts=5,
          backoff=SettingBackoff("NOTIFICATIONS_EMAIL_BACKOFF", exponential=False), timeout=120)
def send_email(payload: SendEmail, ctx):
    """Render ``templates/notifications/email/<template>`` (subject, text and HTML) and send it through
    Django's e-mail backend. A retry after a crash mid-send may send it twice (SMTP has no idempotency)."""
    from notifications.services import email_render_and_send

    sent = email_render_and_send(to=payload.to, template=payload.template, context=payload.context)
    return {"sent": sent, "to": len(payload.to)}


class DigestPost(BaseModel):
    digest_id: int = Field(ge=1)


@job_type("notifications.dlq_webhook", payload=DigestPost, queue="notifications", max_attempts=5,
          backoff=SettingBackoff("NOTIFICATIONS_WEBHOOK_BACKOFF"), timeout=120)
def dlq_webhook(payload: DigestPost, ctx):
    """Send one dead-letter digest to QUEUE_DLQ_WEBHOOK, signed."""
    from notifications.digests import dead_letter_digest_post

    return dead_letter_digest_post(digest_id=payload.digest_id)


class DigestRun(BaseModel):
    pass


@job_type("notifications.dlq_digest", payload=DigestRun, queue="notifications", max_attempts=1, timeout=300,
          unique=Unique(key=(), scope="waiting"), priority="high")  # not behind a backlog of webhook deliveries
def dlq_digest(payload: DigestRun, ctx):
    """Gather the dead jobs not yet told into one digest per job type (at most one per type per
    NOTIFICATIONS_DLQ_DIGEST_SECONDS), prune what is older than NOTIFICATIONS_KEEP_DAYS, and send the push
    messages whose job was lost; run by the built-in "Dead-letter digest" schedule."""
    from notifications.digests import dead_letter_digests_send
    from notifications.push_services import push_messages_sweep
    from notifications.services import notifications_prune

    digests = dead_letter_digests_send()
    return {"digests": [{"job_type": d.job_type, "count": d.count} for d in digests], "pruned": notifications_prune(),
            "push_swept": push_messages_sweep()}


class SendPush(BaseModel):
    user_id: int = Field(ge=1)


def _push_rate():
    try:
        return RateLimit.parse(settings.NOTIFICATIONS_PUSH_RATE)
    except ValueError as exc:
        raise ImproperlyConfigured(f"NOTIFICATIONS_PUSH_RATE: {exc}") from None


@job_type("notifications.send_push", payload=SendPush, queue="notifications", max_attempts=5,
          backoff=SettingBackoff("NOTIFICATIONS_PUSH_BACKOFF"), timeout=300,  # up to 20 browsers, one by one
          unique=Unique(key=("user_id",), scope="waiting"), rate_limit=_push_rate())
def send_push(payload: SendPush, ctx):
    """One push of the user's waiting messages to each of their browsers. Unique per user while it waits,
    so notifications written before it starts go out together; at most NOTIFICATIONS_PUSH_RATE start, across
    all workers."""
    from notifications.push_services import push_batch_send

    return push_batch_send(user_id=payload.user_id, record_id=ctx.record_id, attempt=ctx.attempt)
