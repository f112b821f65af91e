"""Branding writes and rules, for the API, the control panel, the admin and the jobs.

Promised:
- ``branding_save`` validates (``JobError`` naming the field; nothing written), then in one transaction
  writes the settings with ``version`` + 1, supersedes older unfinished fan-outs of the guild (their
  children that have not run are canceled through ``jobs.services.cancel_job`` with the reason) and
  enqueues the new fan-out's parent job: the job is sent to RQ only when all of it commits.
- A shard is never sent an older version than one it has applied: the child job checks the ledger
  before sending, the snapshot tells the shard to refuse an older ``version`` than it holds (answering
  409, recorded as superseded), so retries landing out of order cannot roll a shard back.
- The parent job's status follows its children (``fan_out_run``): it waits (``retrying``, its progress
  moving as shards end) while they work, then ends succeeded when every shard applied the version, dead
  with an error naming the failed shards, or canceled when a newer save superseded it.
- ``fan_out_retry_failed`` (or a staff retry of the parent job) re-runs the parent job, which sends again
  only the shards that have not applied that version, and then follows them again.
- A shard disabled by staff is not sent to, even mid-fan-out: its delivery ends ``skipped`` ("shard
  disabled"), which, like superseded, is not a failure: the fan-out can still end applied.
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from audit.services import audit_event_record
from branding.models import DONE_DELIVERY, OPEN_DELIVERY, BotShard, FanOut, GuildBranding, ShardDelivery
from jobs import services as job_services
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import TERMINAL_STATUSES, WAITING_STATUSES, JobRecord, Status
from notifications.outbound import OutboundRefused, check_url
from project.text import storable

# Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
MAX_DISPLAY_NAME = 256  # author.name
MAX_FOOTER_TEXT = 2048  # footer.text
MAX_ICON_URL = 2048
IDEMPOTENCY_WINDOW = timedelta(hours=24)
FIELDS = ("display_name", "color", "footer_text", "icon_url")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
SHARD_DISABLED = "shard disabled: staff disabled this shard, so it was not sent this version"


# --- Field rules: one place, used by the API schema (422) and the services (JobError) -----------------
def clean_display_name(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_DISPLAY_NAME:
        raise ValueError(f"at most {MAX_DISPLAY_NAME} characters (Discord's limit for an embed author name)")
    return value


def clean_color(value: str) -> str:
    value = (value or "").strip()
    if value and not _HEX.fullmatch(value):
        raise ValueError("a hex colour like #5865f2")
    return value.lower()


def clean_footer_text(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_FOOTER_TEXT:
        raise ValueError(f"at most {MAX_FOOTER_TEXT} characters (Discord's limit for an embed footer)")
    return value


def clean_icon_url(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return value
    if len(value) > MAX_ICON_URL:
        raise ValueError(f"at most {MAX_ICON_URL} characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValueError("not a valid URL") from None
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("an https:// URL")
    return value


CLEANERS = {"display_name": clean_display_name, "color": clean_color, "footer_text": clean_footer_text,
            "icon_url": clean_icon_url}


def branding_validate(**values) -> dict:
    """The cleaned values; ``JobError`` naming every bad field (the first as ``field``)."""
    clean, errors = {}, []
    for name in FIELDS:
        try:
            clean[name] = CLEANERS[name](values.get(name, ""))
        except ValueError as exc:
            errors.append({"field": name, "message": str(exc)})
    if errors:
        raise JobError(f"{errors[0]['field']}: {errors[0]['message']}", field=errors[0]["field"], errors=errors)
    return clean


def snapshot_of(branding: GuildBranding) -> dict:
    """What a shard is sent. ``version`` grows with every save: a shard applies a snapshot only if its
    version is newer than the one it holds, and answers 409 ``{"held": <version>}`` for the same or an
    older one."""
    return {
        "guild_id": branding.guild_id, "version": branding.version,
        "display_name": branding.display_name, "color": branding.color,
        "color_int": int(branding.color[1:], 16) if branding.color else None,
        "footer_text": branding.footer_text, "icon_url": branding.icon_url,
        "apply_if": "version is greater than the version the shard holds for this guild; else answer 409 "
                    "with {\"held\": <the version the shard holds>}",
    }


# --- Saving -------------------------------------------------------------------------------------------
def request_fingerprint(*, guild, values) -> str:
    body = {"guild": guild.pk, **{k: values.get(k, "") for k in FIELDS}}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def branding_save(*, guild, user=None, idempotency_key="", correlation_id=None, **values) -> tuple[FanOut, bool]:
    """Save the guild's embed overrides and enqueue their fan-out, in one transaction.

    Returns ``(fan_out, created)``; ``fan_out.job`` is the parent job. A repeat with the same
    ``Idempotency-Key`` within 24 hours returns the first save's fan-out; the same key with other values
    is ``JobError`` (code ``conflict``, field ``Idempotency-Key``)."""
    clean = branding_validate(**values)
    request_hash = request_fingerprint(guild=guild, values=clean)
    if idempotency_key:
        previous = _previous_use(guild, idempotency_key, request_hash)
        if previous is not None:
            return previous, False
    job_id = uuid.uuid4()
    try:
        with transaction.atomic():
            branding, _ = GuildBranding.objects.select_for_update().get_or_create(guild=guild)
            for name, value in clean.items():
                setattr(branding, name, value)
            branding.version += 1
            branding.updated_by = user if getattr(user, "pk", None) else None
            branding.save()
            _supersede_older(guild, branding.version, actor=user)
            fan_out = FanOut.objects.create(
                guild=guild, version=branding.version, snapshot=snapshot_of(branding), job_id=job_id,
                actor=branding.updated_by, idempotency_key=idempotency_key,
                request_hash=request_hash if idempotency_key else "")
            fan_out.job = enqueue("branding.fan_out", {"fan_out_id": fan_out.pk}, actor=branding.updated_by,
                                  guild=guild, job_id=job_id, correlation_id=correlation_id)
            fan_out.correlation_id = fan_out.job.correlation_id
            fan_out.save(update_fields=["correlation_id"])
            audit_event_record(action="branding.saved", resource_type="branding", resource_id=guild.pk,
                               actor=branding.updated_by, guild=guild, correlation_id=fan_out.correlation_id,
                               data={"version": branding.version, **clean})
    except IntegrityError:
        previous = _previous_use(guild, idempotency_key, request_hash) if idempotency_key else None
        if previous is None:
            raise
        return previous, False
    return fan_out, True


def _previous_use(guild, key, request_hash):
    previous = FanOut.objects.filter(guild=guild, idempotency_key=key).select_related("job").first()
    if previous is None:
        return None
    if previous.created_at < timezone.now() - IDEMPOTENCY_WINDOW or previous.job is None:
        FanOut.objects.filter(pk=previous.pk, idempotency_key=key).update(idempotency_key="")
        return None
    if previous.request_hash and previous.request_hash != request_hash:
        raise JobError(f"Idempotency-Key {key!r} was already used for different branding (version "
                       f"{previous.version}); send a new key", field="Idempotency-Key", code="conflict")
    return previous


def _supersede_older(guild, version, *, actor=None):
    """Older fan-outs of the guild that have not finished are superseded: their jobs that have not run
    (the parent, children waiting or between retries) are canceled with the reason, and their open
    deliveries recorded as superseded. A child already sending finishes; the shard's version check
    keeps it from rolling the shard back."""
    reason = f"superseded by branding version {version}"
    older = list(FanOut.objects.select_for_update().filter(guild=guild, version__lt=version)
                 .exclude(status__in=[FanOut.Status.APPLIED, FanOut.Status.SUPERSEDED]))
    for fan_out in older:
        jobs = JobRecord.objects.filter(
            Q(pk=fan_out.job_id) | Q(pk__in=fan_out.deliveries.values("job_id")), status__in=WAITING_STATUSES)
        for record in jobs:
            job_services.cancel_job(record, actor=actor, reason=reason)
        fan_out.deliveries.filter(status__in=[ShardDelivery.Status.PENDING, ShardDelivery.Status.RETRYING,
                                              ShardDelivery.Status.FAILED]).update(
            status=ShardDelivery.Status.SUPERSEDED, error=reason)
        fan_out.status = FanOut.Status.SUPERSEDED
        fan_out.finished_at = timezone.now()
        fan_out.summary = reason
        fan_out.save(update_fields=["status", "finished_at", "summary"])


# --- The fan-out (called by branding.tasks) ----------------------------------------------------------
@dataclass(frozen=True)
class ParentStep:
    """What the parent job does after a run: ``wait`` for its children, or end ``applied`` (succeeded),
    ``failed`` (dead, ``message`` naming the failed shards) or ``superseded`` (canceled)."""

    outcome: str
    message: str
    result: dict


def fan_out_run(fan_out: FanOut, *, correlation_id=None) -> ParentStep:
    """One run of the parent job ``branding.fan_out``; its status follows its children.

    - Superseded by a newer save: ``superseded`` (the parent ends canceled).
    - Children still at work (woken early, or the check-back): ``wait`` again.
    - The children of the batch it sent have all ended: their outcome, once (``awaiting`` is cleared):
      ``applied`` when every shard holds the version, else ``failed`` naming the failed shards.
    - Otherwise (the first run, a staff retry of the parent, "retry failed shards"): a delivery row per
      enabled shard, and one batch with a child per shard that has not applied the version, whose
      callback ``branding.fan_out_done`` records the outcome and wakes the parent: ``wait``. Only the shards
      that have not applied it are sent again, so retrying the parent retries only the failed shards.
    """
    from jobs.enqueue import enqueue_batch

    with transaction.atomic():
        fan_out = FanOut.objects.select_for_update().get(pk=fan_out.pk)
        result = {"version": fan_out.version}
        if fan_out.status == FanOut.Status.SUPERSEDED or _latest_version(fan_out.guild_id) > fan_out.version:
            FanOut.objects.filter(pk=fan_out.pk).update(awaiting=False)
            return ParentStep("superseded", f"version {fan_out.version} was superseded by a newer save",
                              {**result, "superseded": True})
        deliveries = list(fan_out.deliveries.select_related("job", "shard"))
        at_work = [d for d in deliveries if d.status not in DONE_DELIVERY and d.job is not None
                   and d.job.status not in TERMINAL_STATUSES]
        if at_work:
            return ParentStep("wait", f"waiting for {len(at_work)} shard(s)", result)
        if fan_out.awaiting:
            FanOut.objects.filter(pk=fan_out.pk).update(awaiting=False)
            if fan_out.status == FanOut.Status.SENDING:  # the batch's callback has not recorded it yet
                fan_out_finish(fan_out)
            return _outcome(fan_out, result)
        known = {d.shard_id for d in deliveries}
        for shard in BotShard.objects.filter(enabled=True).exclude(pk__in=known):
            deliveries.append(ShardDelivery.objects.create(fan_out=fan_out, shard=shard))
        todo = [d for d in deliveries if d.status not in DONE_DELIVERY]
        disabled = [d.pk for d in todo if not d.shard.enabled]
        if disabled:  # disabled since the first run: closed, not sent again
            ShardDelivery.objects.filter(pk__in=disabled).exclude(status__in=DONE_DELIVERY).update(
                status=ShardDelivery.Status.SKIPPED, error=SHARD_DISABLED)
            todo = [d for d in todo if d.pk not in disabled]
        if todo:
            batch = enqueue_batch([("branding.apply_to_shard", {"delivery_id": d.pk}) for d in todo],
                                  on_complete=("branding.fan_out_done", {"fan_out_id": fan_out.pk}),
                                  correlation_id=correlation_id)
            job_of = {m.payload["delivery_id"]: m.pk for m in batch.members.all()}
            for delivery in todo:
                ShardDelivery.objects.filter(pk=delivery.pk).update(
                    job_id=job_of[delivery.pk], status=ShardDelivery.Status.PENDING, error="")
            FanOut.objects.filter(pk=fan_out.pk).update(status=FanOut.Status.SENDING, finished_at=None, awaiting=True)
            fan_out_report(fan_out)
            return ParentStep("wait", f"sent to {len(todo)} shard(s); waiting for them", {**result, "sent": len(todo)})
        fan_out_finish(fan_out)  # nothing to send (no enabled shard, or all applied already)
        return _outcome(fan_out, result)


def _outcome(fan_out, result) -> ParentStep:
    fan_out = FanOut.objects.get(pk=fan_out.pk)
    result = {**result, "summary": fan_out.summary}
    if fan_out.status == FanOut.Status.SUPERSEDED:
        return ParentStep("superseded", f"version {fan_out.version} was superseded by a newer save", result)
    failed = list(fan_out.deliveries.filter(status=ShardDelivery.Status.FAILED).select_related("shard")
                  .order_by("shard__shard_id"))
    if failed:
        names = ", ".join(f"shard {d.shard.shard_id} ({d.error_in_brief or 'failed'})" for d in failed)
        return ParentStep("failed", f"{len(failed)} of {len(fan_out.deliveries.all())} shards failed: {names}"[:4000],
                          {**result, "failed_shards": [d.shard.shard_id for d in failed]})
    return ParentStep("applied", fan_out.summary, result)


def fan_out_wake_parent(fan_out: FanOut) -> bool:
    """The children have ended (the batch's callback): the parent, waiting for them, runs now."""
    return bool(fan_out.job_id) and job_services.wake_job(fan_out.job_id)


def _latest_version(guild_id) -> int:
    return GuildBranding.objects.filter(guild_id=guild_id).values_list("version", flat=True).first() or 0


def counts(fan_out: FanOut) -> dict:
    rows = fan_out.deliveries.values("status").annotate(n=Count("id"))
    result = {status: 0 for status in ShardDelivery.Status.values}
    result.update({row["status"]: row["n"] for row in rows})
    result["total"] = sum(row["n"] for row in rows)
    return result


def summary_text(c: dict) -> str:
    if not c["total"]:
        return "no enabled shards"
    parts = [f"{c['applied']} of {c['total']} shards applied"]
    for status in ("failed", "superseded", "skipped", "retrying", "sending", "pending"):
        if c[status]:
            parts.append(f"{c[status]} {status}")
    return ", ".join(parts)


def fan_out_report(fan_out: FanOut) -> str:
    """Aggregate the children into the fan-out's summary and its parent job's progress ("2 of 3 shards
    applied, 1 retrying"): progress is the share of shards that have ended (applied, superseded, skipped,
    failed)."""
    c = counts(fan_out)
    text = summary_text(c)
    ended = c["applied"] + c["superseded"] + c["skipped"] + c["failed"]
    percent = 100 if not c["total"] else int(100 * ended / c["total"])
    FanOut.objects.filter(pk=fan_out.pk).exclude(status=FanOut.Status.SUPERSEDED).update(summary=text)
    if fan_out.job_id:
        JobRecord.objects.filter(pk=fan_out.job_id).update(progress=percent, progress_message=text[:200])
    return text


@transaction.atomic
def fan_out_finish(fan_out: FanOut) -> str:
    """When the children have all ended (the batch callback): deliveries whose job ended without
    recording an outcome (killed, timed out, canceled) are closed, and the fan-out is applied, failed, or
    stays superseded. Audited. One transaction: the outcome, its "branding.applied" webhook deliveries
    and its audit event are seen together or not at all (a crash between them left an applied fan-out
    whose webhooks never heard of it, the retried callback finding nothing left to change)."""
    fan_out = FanOut.objects.get(pk=fan_out.pk)
    for delivery in fan_out.deliveries.filter(status__in=OPEN_DELIVERY).select_related("job"):
        if delivery.job is None or delivery.job.status in TERMINAL_STATUSES:
            reason = delivery.job.last_error if delivery.job else "its job is gone"
            ShardDelivery.objects.filter(pk=delivery.pk, status__in=OPEN_DELIVERY).update(
                status=ShardDelivery.Status.FAILED, error=(reason or f"job {getattr(delivery.job, 'status', '')}")[:2000])
    c = counts(fan_out)
    text = fan_out_report(fan_out)
    if fan_out.status != FanOut.Status.SUPERSEDED:
        open_ = c["pending"] + c["sending"] + c["retrying"]
        if not open_:
            status = FanOut.Status.FAILED if c["failed"] else FanOut.Status.APPLIED
            changed = FanOut.objects.filter(pk=fan_out.pk).exclude(status__in=[FanOut.Status.SUPERSEDED, status]).update(
                status=status, finished_at=timezone.now())
            if changed and status == FanOut.Status.APPLIED:
                # The guild's webhooks subscribed to "branding.applied" hear of it (in this transaction).
                from notifications.services import event_publish

                event_publish(guild=fan_out.guild_id, event="branding.applied",
                              correlation_id=fan_out.correlation_id or None,
                              data={"version": fan_out.version, "fan_out_id": fan_out.pk, "shards": c["applied"]})
            if changed:
                audit_event_record(action=f"branding.fan_out_{status}", resource_type="branding_fan_out",
                                   resource_id=fan_out.pk, guild=fan_out.guild_id,
                                   correlation_id=fan_out.correlation_id or None,
                                   data={"version": fan_out.version, **{k: v for k, v in c.items() if v}})
    return text


# --- One shard ----------------------------------------------------------------------------------------
def delivery_newer_applied(delivery: ShardDelivery) -> int | None:
    """The newest version of the guild this shard holds or is about to be sent, if newer than the
    delivery's: then sending it would be useless at best."""
    fan_out = delivery.fan_out
    newer = (ShardDelivery.objects.filter(shard_id=delivery.shard_id, fan_out__guild_id=fan_out.guild_id,
                                          status=ShardDelivery.Status.APPLIED, fan_out__version__gt=fan_out.version)
             .order_by("-fan_out__version").values_list("fan_out__version", flat=True).first())
    latest = _latest_version(fan_out.guild_id)
    if newer is None and latest > fan_out.version:
        newer = latest
    return newer


def delivery_conflict_outcome(delivery: ShardDelivery, body: bytes) -> tuple[str, str]:
    """What a shard's 409 means, as ``(status, error)``. The shard answers 409 with ``{"held": <the version
    it holds for the guild>}``: the version this delivery sent is *applied* (an earlier attempt applied it
    and answered after our timeout), a newer one *superseded*; an older one is a shard contradicting
    itself, *failed*. An older shard's 409 without ``held`` means "this version or a newer one": applied
    unless a newer save of the guild exists."""
    sent = delivery.fan_out.version
    held = None
    try:
        held = json.loads(body or b"null").get("held")
    except (ValueError, AttributeError):
        pass
    if not isinstance(held, int) or isinstance(held, bool):
        newer = _latest_version(delivery.fan_out.guild_id)
        if newer > sent:
            return ShardDelivery.Status.SUPERSEDED, f"superseded: the shard holds this version or a newer one, " \
                                                    f"and version {newer} was saved since"
        return ShardDelivery.Status.APPLIED, ""
    if held == sent:
        return ShardDelivery.Status.APPLIED, ""
    if held > sent:
        return ShardDelivery.Status.SUPERSEDED, f"superseded: the shard holds the newer version {held}"
    return ShardDelivery.Status.FAILED, f"HTTP 409: the shard refused version {sent} but says it holds {held}"


def delivery_record(delivery: ShardDelivery, status, *, http_status=None, error="", attempt=False,
                    correlation_id=None):
    """Record an attempt's start or an outcome; final outcomes (applied, failed, superseded, skipped) are
    audited. The error is made storable for the delivery and the audit event alike: a shard's answer
    may hold a NUL, which PostgreSQL's text and jsonb refuse."""
    error = storable(error[:2000])
    values = {"status": status, "error": error}
    if http_status is not None:
        values["last_http_status"] = http_status
    if attempt:
        from django.db.models import F

        values.update(attempts=F("attempts") + 1, last_attempt_at=timezone.now())
    ShardDelivery.objects.filter(pk=delivery.pk).update(**values)
    if status in (ShardDelivery.Status.APPLIED, ShardDelivery.Status.FAILED, ShardDelivery.Status.SUPERSEDED,
                  ShardDelivery.Status.SKIPPED):
        fan_out = delivery.fan_out
        audit_event_record(action=f"branding.shard_{status}", resource_type="branding_delivery",
                           resource_id=delivery.pk, guild=fan_out.guild_id, correlation_id=correlation_id,
                           data={"shard": delivery.shard.shard_id, "version": fan_out.version,
                                 "http_status": http_status, "error": error[:500]})
        if FanOut.objects.filter(pk=fan_out.pk, status__in=[FanOut.Status.FAILED, FanOut.Status.APPLIED]).exists():
            # A child run again on its own (a staff retry of that job) after its batch completed: the
            # batch's callback will not run again, so the fan-out's outcome is computed here.
            fan_out_finish(fan_out)
            _parent_follows(fan_out)
            return
    fan_out_report(delivery.fan_out)


def _parent_follows(fan_out: FanOut):
    """A shard's job retried on its own after the parent had ended dead: once every shard has applied the
    version, the parent runs once more to end succeeded (it sends nothing: no shard is left to send)."""
    if not FanOut.objects.filter(pk=fan_out.pk, status=FanOut.Status.APPLIED).exists():
        return
    parent = JobRecord.objects.filter(pk=fan_out.job_id, status=Status.DEAD).first()
    if parent is not None:
        job_services.retry_job(parent, reason="every shard applied after a retry of a shard's job")


# --- Staff and guild admins ---------------------------------------------------------------------------
def fan_out_retry_failed(*, fan_out: FanOut, actor=None) -> JobRecord:
    """Send this fan-out again to the shards that have not applied it (failed ones): its parent job runs
    again and enqueues only those (a disabled shard is skipped, not sent). ``JobError`` (code
    ``conflict``) when a newer save superseded it or no enabled shard failed; then nothing is enqueued."""
    with transaction.atomic():
        fan_out = FanOut.objects.select_for_update().get(pk=fan_out.pk)
        if fan_out.status == FanOut.Status.SUPERSEDED or _latest_version(fan_out.guild_id) > fan_out.version:
            raise JobError(f"version {fan_out.version} was superseded by a newer save; nothing to retry",
                           field="fan_out", code="conflict")
        failed = fan_out.deliveries.filter(status=ShardDelivery.Status.FAILED, shard__enabled=True).count()
        if not failed:
            raise JobError("no enabled shard failed in this fan-out; nothing to retry", field="fan_out",
                           code="conflict")
        job = JobRecord.objects.select_for_update().filter(pk=fan_out.job_id).first()
        if job is not None and job.status in TERMINAL_STATUSES:
            job_services.retry_job(job, actor=actor, reason="retry failed shards")
        elif job is None:
            job = enqueue("branding.fan_out", {"fan_out_id": fan_out.pk}, actor=actor, guild=fan_out.guild)
            FanOut.objects.filter(pk=fan_out.pk).update(job=job)
        else:
            raise JobError("this fan-out is still being sent; wait for it to end", field="fan_out", code="conflict")
        FanOut.objects.filter(pk=fan_out.pk).update(status=FanOut.Status.SENDING, finished_at=None)
        audit_event_record(action="branding.retry_failed_shards", resource_type="branding_fan_out",
                           resource_id=fan_out.pk, actor=actor, guild=fan_out.guild_id,
                           data={"version": fan_out.version, "failed": failed})
    return job


def shard_check_url(url: str) -> None:
    """For the shard registry's form: ``JobError`` naming ``base_url`` if the URL may not be called."""
    try:
        check_url(url)
    except OutboundRefused as exc:
        raise JobError(str(exc), field="base_url") from None
