"""An export opens well in the tool it is made for: XLSX cells are typed (Excel dates in the guild's time
zone, numbers as numbers), CSV whole numbers have no ``.0``, and a large export's progress moves while it
is made. Each file is made by a real worker and read back as its user's tool reads it (openpyxl, csv)."""

import csv
import io
from datetime import date, datetime, timezone

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from exports import services
from exports.models import AnalyticsEvent
from jobs.models import JobRecord, Status
from project.models import Guild
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paris(django_user_model):
    guild = Guild.objects.create(name="Paris", slug="paris", time_zone="Europe/Paris")
    AnalyticsEvent.objects.bulk_create([
        AnalyticsEvent(guild=guild, kind="messages", value=12.0, time=datetime(2026, 3, 5, 12, 0, 7, tzinfo=timezone.utc),
                       dimensions={"channel": "general"}),
        # summer time: UTC+2
        AnalyticsEvent(guild=guild, kind="messages", value=2.5, time=datetime(2026, 7, 1, 22, 30, tzinfo=timezone.utc)),
    ])
    return guild, django_user_model.objects.create_user("paris-admin")


def made(guild, user, format, start_worker, **request):
    export, _ = services.export_request(guild=guild, user=user, format=format, start=request.get("start", date(2026, 3, 1)),
                                        end=request.get("end", date(2026, 7, 31)), metrics=["messages"])
    start_worker(**request.get("worker", {}))
    wait_for(lambda: JobRecord.objects.filter(pk=export.job_id, status=Status.SUCCEEDED).exists(), timeout=40)
    export.refresh_from_db()
    return export, b"".join(services.export_open(export, user=user))


def test_xlsx_times_are_excel_dates_in_the_guilds_zone_and_numbers_are_numbers(paris, start_worker):
    from openpyxl import load_workbook

    export, data = made(*paris, "xlsx", start_worker)
    sheet = load_workbook(io.BytesIO(data))["analytics"]
    assert [c.value for c in sheet[1]] == ["id", "time (Europe/Paris)", "kind", "value", "dimensions"]
    first, second = sheet[2], sheet[3]
    assert first[1].is_date and first[1].number_format.startswith("yyyy-mm-dd h"), first[1].number_format
    assert first[1].value == datetime(2026, 3, 5, 13, 0, 7), "12:00:07 UTC is 13:00:07 in Paris in March"
    assert second[1].value == datetime(2026, 7, 2, 0, 30), "and 22:30 UTC is 00:30 the next day in July"
    for cell in (first[0], first[3], second[3]):
        assert cell.data_type == "n", f"{cell.coordinate} is a number cell"
    assert isinstance(first[0].value, int) and first[3].value == 12 and isinstance(first[3].value, int)
    assert second[3].value == 2.5
    assert first[2].value == "messages" and first[4].value == '{"channel": "general"}'


def test_csv_whole_numbers_have_no_decimal_point(paris, start_worker):
    export, data = made(*paris, "csv", start_worker)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["value"] for r in rows] == ["12", "2.5"]
    assert rows[0]["time"] == "2026-03-05T12:00:07+00:00", "CSV keeps ISO 8601 in UTC, with its offset"


def test_a_guild_time_zone_is_an_iana_name():
    Guild(name="Tokyo", slug="tokyo", time_zone="Asia/Tokyo").full_clean()
    for bad in ("Mars/Olympus_Mons", "CEST+2", "../etc/passwd"):
        with pytest.raises(ValidationError) as caught:
            Guild(name="Nowhere", slug="nowhere", time_zone=bad).full_clean()
        assert "time_zone" in caught.value.message_dict
    assert Guild.objects.create(name="Default", slug="default").time_zone == "UTC"


@pytest.fixture
def progress_history():
    """Every change of a job's progress, as PostgreSQL saw it (a trigger on the ledger): what a reader
    polling the job could have seen, without the test racing the worker."""
    table = JobRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_progress_seen (n bigserial PRIMARY KEY, job_id uuid, progress int, message text)")
        cursor.execute("""CREATE FUNCTION test_note_progress() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.progress IS DISTINCT FROM OLD.progress THEN
                INSERT INTO test_progress_seen (job_id, progress, message) VALUES (NEW.id, NEW.progress, NEW.progress_message);
              END IF;
              RETURN NEW;
            END $$""")
        cursor.execute(f"CREATE TRIGGER test_note_progress AFTER UPDATE OF progress ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION test_note_progress()")

    def seen(job_id):
        with connection.cursor() as cursor:
            cursor.execute("SELECT progress, message FROM test_progress_seen WHERE job_id = %s ORDER BY n", [job_id])
            return cursor.fetchall()

    yield seen
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER test_note_progress ON {table}")
        cursor.execute("DROP FUNCTION test_note_progress()")
        cursor.execute("DROP TABLE test_progress_seen")


def test_a_large_exports_progress_moves_while_it_is_made(paris, start_worker, progress_history):
    guild, user = paris
    AnalyticsEvent.objects.bulk_create([
        AnalyticsEvent(guild=guild, kind="messages", time=datetime(2026, 4, 1, 0, minute % 60, tzinfo=timezone.utc))
        for minute in range(1_000)
    ])
    export, data = made(guild, user, "csv", start_worker, worker={"env": {"EXPORTS_PROGRESS_ROWS": "100"}})
    assert export.rows == 1_002
    history = progress_history(export.job_id)
    steps = [p for p, _ in history if 0 < p < 100]
    assert len(set(steps)) >= 9, f"a report every 100 of 1,002 rows, seen: {history}"
    assert steps == sorted(steps), "progress never moves backwards"
    assert any("of 1002 rows" in message for _, message in history)
    assert history[-1][0] == 100
