"""Row writers: analytics rows to CSV, JSON Lines or XLSX, streamed into a binary file object.

``write_many(rows)`` takes a chunk of rows and writes it as one piece: the hashing and encrypting
layers below then see a few writes per thousand rows instead of one per row. A row is ``(id, time,
kind, value, dimensions)`` with ``dimensions`` as the database's JSON text, written as it comes
(parsing and re-encoding every row's JSON cost half of an export's time).
"""

import csv
import io
import json

COLUMNS = ["id", "time", "kind", "value", "dimensions"]


def _iso(time):
    """Rows carry the time as ISO 8601 text already (PostgreSQL formats it) or as a datetime."""
    return time if isinstance(time, str) else time.isoformat()


def _cells(row):
    event_id, time, kind, value, dimensions = row
    return [event_id, _iso(time), kind, value, dimensions]


class CsvWriter:
    def __init__(self, out):
        self._out = out
        self._text = io.StringIO()
        self._csv = csv.writer(self._text)
        self._csv.writerow(COLUMNS)
        self._flush()

    def _flush(self):
        self._out.write(self._text.getvalue().encode())
        self._text.seek(0)
        self._text.truncate()

    def write_many(self, rows):
        self._csv.writerows(map(_cells, rows))
        self._flush()

    def close(self):
        pass


class JsonLinesWriter:
    def __init__(self, out):
        self._out = out

    def write_many(self, rows):
        # Keys in sorted order, as json.dumps(sort_keys=True) would write them.
        self._out.write("".join(
            f'{{"dimensions":{dimensions},"id":{event_id},"kind":{json.dumps(kind)},"time":"{_iso(time)}",'
            f'"value":{json.dumps(value)}}}\n'
            for event_id, time, kind, value, dimensions in rows
        ).encode())

    def close(self):
        pass


class XlsxWriter:
    """openpyxl in write-only mode: rows go to a temporary file, not memory; the workbook is zipped into
    ``out`` at close."""

    def __init__(self, out):
        from openpyxl import Workbook

        self._out = out
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet("analytics")
        self._sheet.append(COLUMNS)

    def write_many(self, rows):
        for row in rows:
            self._sheet.append(_cells(row))

    def close(self):
        self._book.save(self._out)


WRITERS = {"csv": CsvWriter, "jsonl": JsonLinesWriter, "xlsx": XlsxWriter}
CONTENT_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
