"""Reads of exports that other parts of jobdesk show."""

from django.urls import reverse
from django.utils import timezone

from exports.models import Export
from exports.services import download_token


def export_status(record, absolute_url) -> dict:
    """For ``GET /api/jobs/<id>`` of an ``exports.generate`` job: the export, and once its file is ready
    (and not expired) a signed download link valid ``EXPORTS_LINK_TTL`` seconds."""
    export = Export.objects.filter(pk=(record.payload or {}).get("export_id")).first()
    if export is None:
        return {}
    ready = bool(export.file_name) and (export.expires_at is None or export.expires_at > timezone.now())
    return {"export": {
        "id": export.pk, "format": export.format, "rows": export.rows, "size": export.size,
        "completed_at": export.completed_at, "expires_at": export.expires_at,
        "download_url": absolute_url(reverse("panel:download", args=[download_token(export)])) if ready else None,
    }}
