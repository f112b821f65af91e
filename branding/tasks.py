"""Branding's job types, all internal: the fan-out (parent), one child per shard, and the batch callback.

``branding.fan_out`` enqueues one ``branding.apply_to_shard`` per enabled shard that has not applied the
version, as a batch whose callback ``branding.fan_out_done`` computes the outcome once, when every
child has ended, and wakes the parent. The parent waits for its children (``jobs.errors.Waiting``) and
its status follows them: succeeded (all applied), dead naming the failed shards, canceled (superseded). Each child retries on its own (``BRANDING_MAX_ATTEMPTS``, backoff from
``BRANDING_RETRY_DELAY``); a 4xx other than 408/409/429 is permanent. A 409 is applied when the shard
holds the version sent (an earlier attempt landed after its timeout), superseded when it holds a newer one
(``services.delivery_conflict_outcome``). A shard disabled meanwhile is skipped, not sent (every attempt
reads it afresh); a delivery deleted meanwhile ends the child quietly.
"""

import json
from dataclasses import dataclass

from django.conf import settings
from pydantic import BaseModel, StrictInt

from branding import services
from branding.models import DONE_DELIVERY, FanOut, ShardDelivery
from jobs.errors import Canceled, PermanentError, Waiting
from jobs.registry import job_type
from notifications import outbound
from notifications.signing import sign


class FanOutIn(BaseModel):
    fan_out_id: StrictInt


class DeliveryIn(BaseModel):
    delivery_id: StrictInt


# Seconds after which a waiting parent looks at its children itself, should nobody have woken it.
PARENT_CHECK_BACK = 60


class ShardError(Exception):
    """The shard did not take the snapshot this time (5xx, 408, 429, no answer): try again later."""


@dataclass(frozen=True)
class SettingsBackoff:
    """``BRANDING_RETRY_DELAY * 2 ** (attempt - 1)``, capped at 10 minutes; read when a retry is planned,
    so that the setting of the worker's environment applies."""

    def __call__(self, attempt: int) -> float:
        return min(600.0, settings.BRANDING_RETRY_DELAY * 2 ** max(0, attempt - 1))


@job_type("branding.fan_out", payload=FanOutIn, queue="branding", max_attempts=settings.BRANDING_MAX_ATTEMPTS,
          backoff=SettingsBackoff(), timeout=120)
def fan_out(payload: FanOutIn, ctx):
    record = FanOut.objects.filter(pk=payload.fan_out_id).first()
    if record is None:
        raise PermanentError(f"fan-out {payload.fan_out_id} is gone")
    step = services.fan_out_run(record, correlation_id=ctx.correlation_id)
    if step.outcome == "wait":
        raise Waiting(step.message, seconds=PARENT_CHECK_BACK)
    if step.outcome == "superseded":
        raise Canceled(step.message)
    if step.outcome == "failed":
        raise PermanentError(step.message)
    return step.result


@job_type("branding.fan_out_done", payload=FanOutIn, queue="branding", max_attempts=settings.BRANDING_MAX_ATTEMPTS,
          backoff=SettingsBackoff(), timeout=120)
def fan_out_done(payload: FanOutIn, ctx):
    record = FanOut.objects.filter(pk=payload.fan_out_id).first()
    if record is None:
        return {"gone": True}
    summary = services.fan_out_finish(record)
    services.fan_out_wake_parent(record)
    return {"summary": summary}


@job_type("branding.apply_to_shard", payload=DeliveryIn, queue="branding",
          max_attempts=settings.BRANDING_MAX_ATTEMPTS, backoff=SettingsBackoff(),
          timeout=int(settings.BRANDING_SHARD_TIMEOUT * 3) + 30, retry_on=(ShardError, outbound.OutboundError))
def apply_to_shard(payload: DeliveryIn, ctx):
    delivery = (ShardDelivery.objects.select_related("fan_out", "shard").filter(pk=payload.delivery_id).first())
    if delivery is None:  # its fan-out was deleted: nothing left to send or to record
        return {"skipped": f"delivery {payload.delivery_id} is gone"}
    if delivery.status in DONE_DELIVERY:
        return {"status": delivery.status}  # ran before (a crash after the answer): nothing to do
    cid = ctx.correlation_id
    if not delivery.shard.enabled:  # read afresh by every attempt: staff disabled it meanwhile
        services.delivery_record(delivery, ShardDelivery.Status.SKIPPED, correlation_id=cid,
                                 error=services.SHARD_DISABLED)
        return {"status": "skipped", "reason": services.SHARD_DISABLED}
    newer = services.delivery_newer_applied(delivery)
    if newer is not None:
        services.delivery_record(delivery, ShardDelivery.Status.SUPERSEDED, correlation_id=cid,
                                 error=f"superseded: shard {delivery.shard.shard_id} holds or is sent version {newer}")
        return {"status": "superseded", "newer": newer}
    services.delivery_record(delivery, ShardDelivery.Status.SENDING, attempt=True, correlation_id=cid)
    body = json.dumps(delivery.fan_out.snapshot, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Correlation-ID": cid,
               **sign(delivery.shard.signing_secret, body)}
    last = ShardDelivery.Status.FAILED if ctx.is_last_attempt else ShardDelivery.Status.RETRYING
    try:
        answer = outbound.post(delivery.shard.apply_url, body, headers, timeout=settings.BRANDING_SHARD_TIMEOUT)
    except outbound.OutboundRefused as exc:
        services.delivery_record(delivery, ShardDelivery.Status.FAILED, error=f"refused: {exc}", correlation_id=cid)
        raise PermanentError(f"shard {delivery.shard.shard_id}: refused (an address outbound requests may not "
                             "reach)") from None
    except outbound.OutboundError as exc:
        services.delivery_record(delivery, last, error=f"no answer: {exc}", correlation_id=cid)
        raise ShardError(f"shard {delivery.shard.shard_id}: no answer") from None
    status = answer.status
    if 200 <= status < 300:
        services.delivery_record(delivery, ShardDelivery.Status.APPLIED, http_status=status, correlation_id=cid)
        return {"status": "applied", "http_status": status}
    if status == 409:  # the shard holds this version (an earlier attempt landed late) or a newer one
        outcome, error = services.delivery_conflict_outcome(delivery, answer.body)
        services.delivery_record(delivery, outcome, http_status=status, correlation_id=cid, error=error)
        return {"status": str(outcome), "http_status": status}
    error = f"HTTP {status}: {answer.body[:200].decode(errors='replace')}"
    if status >= 500 or status in (408, 429):
        services.delivery_record(delivery, last, http_status=status, error=error, correlation_id=cid)
        raise ShardError(f"shard {delivery.shard.shard_id}: HTTP {status}")
    services.delivery_record(delivery, ShardDelivery.Status.FAILED, http_status=status, error=error, correlation_id=cid)
    raise PermanentError(f"shard {delivery.shard.shard_id}: HTTP {status}")
