"""Export requests and downloads: the rules, in one place, for the API, the control panel and the admin."""

import hashlib
import json
import uuid
from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_event_record
from exports.models import Export
from jobs import services as job_services
from jobs.enqueue import enqueue
from jobs.errors import JobError
from jobs.models import JobRecord, Status
from project.db import insert_one

METRICS = ("messages", "members_joined", "members_left", "commands", "reactions", "voice_minutes")
MAX_RANGE_DAYS = 366
IDEMPOTENCY_WINDOW = timedelta(hours=24)
_SIGNER_SALT = "exports.download"


def _validate(format, start, end, metrics):
    if format not in Export.Format.values:
        raise JobError(f"unknown format {format!r}; use one of {', '.join(Export.Format.values)}", field="format",
                       code="invalid_format")
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, date):
            raise JobError(f"{field} must be a date (YYYY-MM-DD)", field=field, code="invalid_date")
    for problem in export_range_problems(start, end):
        raise problem
    if not metrics:
        raise JobError("choose at least one metric", field="metrics", code="invalid_metric")
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise JobError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}", field="metrics",
                       code="invalid_metric")


def export_range_problems(start: date, end: date) -> list[JobError]:
    """What is wrong with a date range (empty when nothing): one rule for the API, the services and the
    panel's form, which shows it beside the other fields' errors rather than after them. A range that
    ends in the future is refused: there is nothing to count there (and 9999-12-31 overflowed the job)."""
    if end < start:
        return [JobError("the range ends before it starts", field="end", code="invalid_range")]
    latest = timezone.now().date() + timedelta(days=1)  # today somewhere on Earth; nothing is counted later
    if end > latest:
        return [JobError(f"the range ends in the future (the latest end is {latest.isoformat()})", field="end",
                         code="invalid_range")]
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return [JobError(f"the range spans more than {MAX_RANGE_DAYS} days", field="end", code="range_too_long")]
    return []


def export_request(*, guild, user, format, start, end, metrics, idempotency_key="") -> tuple[Export, bool]:
    """Validate and record an export, and enqueue its job, in one transaction.

    Returns ``(export, created)``. An ``Idempotency-Key`` is unique per guild for 24 hours (a database
    constraint, so concurrent repeats cannot both enqueue): a repeat of the same request with the same
    key returns the first export; the same key with a different request is ``JobError`` (code
    ``conflict``, field ``Idempotency-Key``), as Stripe answers it. ``JobError`` names the field of bad
    input; nothing is written then.
    """
    _validate(format, start, end, metrics)
    metrics = sorted(set(metrics))
    request_hash = request_fingerprint(guild=guild, format=format, start=start, end=end, metrics=metrics)
    if idempotency_key:
        previous = _previous_use(guild, idempotency_key, request_hash)
        if previous is not None:
            return previous, False
    job_id = uuid.uuid4()  # named before the job exists: the export row points at it from its INSERT
    try:
        with transaction.atomic():
            export = insert_one(Export(
                guild=guild, requested_by=user, format=format, start=start, end=end, metrics=metrics,
                idempotency_key=idempotency_key, request_hash=request_hash if idempotency_key else "", job_id=job_id))
            export.job = enqueue("exports.generate", {"export_id": export.pk}, actor=user, guild=guild, job_id=job_id)
    except IntegrityError:
        # A concurrent request with the same key committed first (the unique index made this INSERT wait
        # for it): answer with its export; its job is the only one.
        previous = _previous_use(guild, idempotency_key, request_hash) if idempotency_key else None
        if previous is None:
            raise
        return previous, False
    return export, True


def request_fingerprint(*, guild, format, start, end, metrics) -> str:
    """SHA-256 of the request as canonical JSON (sorted keys, no spaces, the metrics as a sorted set): two
    bodies asking for the same export have the same fingerprint, whatever their key order or layout."""
    body = {"guild": guild.pk, "format": format, "start": start.isoformat(), "end": end.isoformat(),
            "metrics": sorted(set(metrics))}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _previous_use(guild, key, request_hash):
    """The export that already holds ``key`` in ``guild``, if the key is still live; ``JobError`` if it
    was used for a different request. A key older than the window, or whose job staff deleted, is freed
    (the old export keeps everything else) so that the caller's request makes a new export."""
    previous = Export.objects.filter(guild=guild, idempotency_key=key).select_related("job").first()
    if previous is None:
        return None
    if previous.created_at < timezone.now() - IDEMPOTENCY_WINDOW or previous.job is None:
        Export.objects.filter(pk=previous.pk, idempotency_key=key).update(idempotency_key="")
        return None
    if previous.request_hash and previous.request_hash != request_hash:
        raise JobError(f"Idempotency-Key {key!r} was already used for a different request (export {previous.pk}); "
                       "send a new key for a different export", field="Idempotency-Key", code="conflict")
    return previous


# A guild admin may retry an export whose job failed or was canceled; a succeeded one has its file.
RETRYABLE_STATUSES = frozenset({Status.DEAD, Status.CANCELED})


def export_retry(*, export: Export, user) -> JobRecord:
    """Make a failed or canceled export again (its job gets a new attempt); ``JobError`` (code
    ``conflict``) for any other export, and then nothing is enqueued.

    The control panel offers the button only for those, but a form can be posted anyway: the rule is
    checked here, on the job's row locked for the check, so that the job cannot change between the
    check and the retry."""
    with transaction.atomic():
        job = JobRecord.objects.select_for_update().filter(pk=export.job_id).first()
        if job is None or job.status not in RETRYABLE_STATUSES:
            status = job.status if job else "gone"
            raise JobError(f"only a failed or canceled export can be retried; this one is {status}",
                           field="export", code="conflict")
        job_services.retry_job(job, actor=user, reason="retried by a guild admin")
    return job


def download_token(export: Export) -> str:
    """A signed token naming the export; valid for EXPORTS_LINK_TTL seconds."""
    return signing.TimestampSigner(salt=_SIGNER_SALT).sign(str(export.pk))


def export_for_token(token: str) -> Export:
    """The ready export a token names; ``JobError`` if it is forged, expired, or the file is gone."""
    try:
        pk = signing.TimestampSigner(salt=_SIGNER_SALT).unsign(token, max_age=settings.EXPORTS_LINK_TTL)
    except signing.SignatureExpired:
        raise JobError("this download link has expired; ask for a new one", field="token", code="link_expired")
    except signing.BadSignature:
        raise JobError("this download link is not valid", field="token", code="link_invalid")
    export = Export.objects.filter(pk=pk).select_related("guild").first()
    if export is None or not export.ready:
        raise JobError("this export is not available any more", field="token", code="export_gone")
    return export


def export_open(export: Export, *, user=None, correlation_id=None):
    """Yield the decrypted file in chunks (nothing decrypted is written anywhere) and audit the download."""
    from exports.crypto import decrypt_chunks

    audit_event_record(action="export.downloaded", resource_type="export", resource_id=export.pk,
                       actor=user, guild=export.guild_id, correlation_id=correlation_id,
                       data={"format": export.format, "rows": export.rows})

    def chunks():
        with default_storage.open(export.file_name, "rb") as raw:
            yield from decrypt_chunks(raw)

    return chunks()
