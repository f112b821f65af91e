"""An export's file: encrypted at rest, and decrypted it is exactly the guild's rows, in every format."""

import csv
import io
import json
from datetime import date, datetime, timezone

import pytest
from django.core.files.storage import default_storage

from exports import services
from exports.crypto import DecryptionError, decrypt_chunks
from exports.models import AnalyticsEvent, Export
from jobs.errors import JobError
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def guilds():
    mine, other = Guild.objects.create(name="Mine", slug="mine"), Guild.objects.create(name="Other", slug="other")
    events = []
    for day in range(1, 11):
        for kind in ("messages", "commands", "reactions"):
            events.append(AnalyticsEvent(guild=mine, kind=kind, value=day * 1.5,
                                         # odd days with microseconds: ISO 8601 shows them only then
                                         time=datetime(2026, 3, day, 12, day, 7, 1001 * (day % 2) * day,
                                                       tzinfo=timezone.utc),
                                         dimensions={"channel": f"c{day}", "emoji": "✓" if day % 2 else ""}))
    events.append(AnalyticsEvent(guild=other, kind="messages", time=datetime(2026, 3, 5, tzinfo=timezone.utc)))
    events.append(AnalyticsEvent(guild=mine, kind="messages", time=datetime(2026, 4, 1, tzinfo=timezone.utc)))
    AnalyticsEvent.objects.bulk_create(events)
    return mine, other


def to_ms(time):
    return time.replace(microsecond=round(time.microsecond, -3)).isoformat()


def expected_rows(guild):
    rows = AnalyticsEvent.objects.filter(guild=guild, kind__in=["commands", "messages"],
                                         time__gte=datetime(2026, 3, 2, tzinfo=timezone.utc),
                                         time__lt=datetime(2026, 3, 9, tzinfo=timezone.utc)).order_by("time", "id")
    return [{"id": e.id, "time": e.time.isoformat(), "kind": e.kind, "value": e.value, "dimensions": e.dimensions}
            for e in rows]


def parse(format, data):
    if format == "jsonl":
        return [json.loads(line) for line in data.decode().splitlines()]
    if format == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True)["analytics"]
        header, *body = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert header[1] == "time (UTC)", "the guild's zone is named in the heading"
        header[1] = "time"
        # Excel dates in the guild's zone (UTC here), to the millisecond (Excel's precision)
        rows = [{**dict(zip(header, r)), "time": to_ms(r[1].replace(tzinfo=timezone.utc))} for r in body]
    return [{"id": int(r["id"]), "time": r["time"], "kind": r["kind"], "value": float(r["value"]),
             "dimensions": json.loads(r["dimensions"])} for r in rows]


@pytest.mark.parametrize("format", ["csv", "jsonl", "xlsx"])
def test_an_export_decrypts_to_exactly_the_guilds_rows(format, guilds, start_worker, django_user_model):
    mine, _ = guilds
    user = django_user_model.objects.create_user("guild-admin", password="pw-guild-admin-1")
    export, created = services.export_request(guild=mine, user=user, format=format, start=date(2026, 3, 2),
                                              end=date(2026, 3, 8), metrics=["messages", "commands"])
    assert created and export.job.status == Status.QUEUED
    start_worker()
    wait_for(lambda: JobRecord.objects.filter(pk=export.job_id, status=Status.SUCCEEDED).exists(), timeout=30)
    export.refresh_from_db()

    stored = default_storage.open(export.file_name, "rb").read()
    plain = b"".join(services.export_open(export, user=user))
    expected = expected_rows(mine)
    if format == "xlsx":
        expected = [{**row, "time": to_ms(datetime.fromisoformat(row["time"]))} for row in expected]
    assert parse(format, plain) == expected
    assert export.rows == 14 and export.size == len(plain)
    import hashlib

    assert export.sha256 == hashlib.sha256(plain).hexdigest()
    assert b"messages" not in stored and b"channel" not in stored, "the stored bytes are not plaintext"
    assert JobRecord.objects.get(pk=export.job_id).progress == 100


def test_a_tampered_or_truncated_file_is_refused(tmp_path):
    from exports.crypto import CHUNK, EncryptingWriter

    raw = io.BytesIO()
    writer = EncryptingWriter(raw)
    writer.write(b"x" * (CHUNK * 2 + 10))
    writer.close()
    data = raw.getvalue()
    assert b"".join(decrypt_chunks(io.BytesIO(data))) == b"x" * (CHUNK * 2 + 10)

    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    cut_at_chunk = data[: data.index(data[-(10 + 16 + 4):])]  # drop the final chunk whole
    for bad in (bytes(flipped), data[:-5], cut_at_chunk, b"JDX1" + data[4:20], b"not an export"):
        with pytest.raises(DecryptionError):
            b"".join(decrypt_chunks(io.BytesIO(bad)))


def test_download_links_expire_and_cannot_be_forged(guilds, settings, django_user_model):
    mine, _ = guilds
    export = Export.objects.create(guild=mine, format="csv", start=date(2026, 3, 1), end=date(2026, 3, 2),
                                   metrics=["messages"], file_name="exports/x.enc",
                                   completed_at=datetime.now(timezone.utc))
    token = services.download_token(export)
    assert services.export_for_token(token) == export
    with pytest.raises(JobError) as caught:
        services.export_for_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    assert caught.value.code == "link_invalid"
    other = Export.objects.create(guild=mine, format="csv", start=date(2026, 3, 1), end=date(2026, 3, 2),
                                  metrics=["messages"])
    forged = token.replace(f"{export.pk}:", f"{other.pk}:", 1)
    with pytest.raises(JobError):
        services.export_for_token(forged)
    settings.EXPORTS_LINK_TTL = 0
    import time

    time.sleep(1.1)
    with pytest.raises(JobError) as caught:
        services.export_for_token(token)
    assert caught.value.code == "link_expired"
