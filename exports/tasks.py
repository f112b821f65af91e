"""Export job types: generate an export file, delete expired ones."""

import hashlib
import tempfile
from itertools import islice
from datetime import datetime, time, timedelta, timezone

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone as dj_timezone
from django.db import connection, models
from django.db.models import Func
from django.db.models.functions import Cast
from pydantic import BaseModel, Field

from jobs.registry import job_type

ROWS_PER_WRITE = 5_000  # also the rows fetched per round trip: memory stays flat at any export size


class IsoTime(Func):
    """A timestamp as ``datetime.isoformat()`` writes it in UTC (microseconds only when there are some),
    made by PostgreSQL: parsing timestamps into datetimes and formatting them again cost a third of an
    export's time. Elsewhere (SQLite for ``make run``) the datetime itself, formatted by the writer."""

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        utc = f"({sql} AT TIME ZONE 'UTC')"
        formatted = (f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
                     f"EXTRACT(MICROSECONDS FROM {utc})::bigint %% 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END "
                     "|| '+00:00'")
        return formatted, [*params, *params, *params]

    def as_sql(self, compiler, connection, **extra):
        return compiler.compile(self.source_expressions[0])


class GenerateExport(BaseModel):
    export_id: int = Field(ge=1)


class _Measuring:
    """Counts and hashes the plaintext on its way to the encrypting writer."""

    def __init__(self, inner):
        self.inner, self.size, self.digest = inner, 0, hashlib.sha256()

    def write(self, data):
        self.size += len(data)
        self.digest.update(data)
        return self.inner.write(data)

    def writable(self):
        return True

    def seekable(self):
        return False

    def tell(self):
        return self.size

    def flush(self):
        pass


def _exports_per_guild():
    return settings.EXPORTS_MAX_CONCURRENT_PER_GUILD


@job_type("exports.generate", payload=GenerateExport, queue="exports", max_attempts=3, timeout=3 * 3600,
          concurrency=_exports_per_guild)
def generate(payload: GenerateExport, ctx):
    """Stream the guild's analytics rows from the database in chunks into an encrypted file, report
    progress, store it and record its size, row count and checksum. Idempotent: a second run writes a
    new file and replaces the record's."""
    from exports.crypto import EncryptingWriter
    from exports.models import AnalyticsEvent, Export
    from exports.writers import WRITERS

    export = Export.objects.select_related("guild").get(pk=payload.export_id)
    start = datetime.combine(export.start, time.min, tzinfo=timezone.utc)
    end = datetime.combine(export.end, time.min, tzinfo=timezone.utc) + timedelta(days=1)
    rows = AnalyticsEvent.objects.filter(guild_id=export.guild_id, time__gte=start, time__lt=end,
                                         kind__in=export.metrics).order_by("time", "id")
    ctx.progress(0, "counting rows")
    total = rows.count()
    rows = rows.annotate(
        iso_time=IsoTime("time", output_field=models.CharField() if connection.vendor == "postgresql"
                         else models.DateTimeField()),
        dimensions_json=Cast("dimensions", models.TextField()),
    )
    # XLSX wants datetimes (its cells are Excel dates in the guild's zone); the text formats take the
    # time as PostgreSQL formats it, which is faster than formatting datetimes here.
    time_column = "time" if export.format == "xlsx" else "iso_time"
    # Progress every EXPORTS_PROGRESS_ROWS rows at most (a write is never bigger): a large export's
    # progress bar moves, and each report is one short UPDATE.
    every = settings.EXPORTS_PROGRESS_ROWS
    per_write = min(ROWS_PER_WRITE, every)
    with tempfile.TemporaryFile() as encrypted:
        sealer = EncryptingWriter(encrypted)
        measured = _Measuring(sealer)
        writer = WRITERS[export.format](measured, time_zone=export.guild.zone)
        count = reported = 0
        stream = rows.values_list("id", time_column, "kind", "value", "dimensions_json").iterator(
            chunk_size=ROWS_PER_WRITE)
        while chunk := list(islice(stream, per_write)):
            writer.write_many(chunk)
            count += len(chunk)
            if count - reported >= every:
                reported = count
                ctx.progress(99 * count // max(total, 1), f"{count} of {total} rows")
        ctx.progress(99 * count // max(total, 1), f"{count} of {total} rows; writing the file")
        writer.close()
        sealer.close()
        encrypted.seek(0)
        name = default_storage.save(f"exports/{export.guild_id}/{export.pk}-{ctx.attempt}.{export.format}.enc",
                                    File(encrypted))
    old = export.file_name
    now = dj_timezone.now()
    Export.objects.filter(pk=export.pk).update(
        file_name=name, key_id=sealer.key_id, size=measured.size, rows=count, sha256=measured.digest.hexdigest(),
        completed_at=now, expires_at=now + timedelta(days=settings.EXPORTS_RETENTION_DAYS),
    )
    if old and old != name:
        default_storage.delete(old)
    return {"rows": count, "size": measured.size, "sha256": measured.digest.hexdigest()}


class DeleteExpired(BaseModel):
    limit: int = Field(default=10_000, ge=1, le=1_000_000)


@job_type("exports.delete_expired", payload=DeleteExpired, queue="exports", max_attempts=3, timeout=3600)
def delete_expired(payload: DeleteExpired, ctx):
    """Delete the files of expired exports and say so in the audit log."""
    from audit.services import audit_event_record
    from exports.models import Export

    deleted = []
    for export in Export.objects.filter(expires_at__lte=dj_timezone.now()).exclude(file_name="")[: payload.limit]:
        default_storage.delete(export.file_name)
        Export.objects.filter(pk=export.pk).update(file_name="")
        deleted.append(export.pk)
        audit_event_record(action="export.file_deleted", resource_type="export", resource_id=export.pk,
                           guild=export.guild_id, correlation_id=ctx.correlation_id,
                           data={"reason": "expired", "expired_at": export.expires_at.isoformat()})
    return {"deleted": len(deleted)}
