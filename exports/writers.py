"""Row writers: analytics rows to CSV, JSON Lines or XLSX, streamed into a binary file object."""

import csv
import io
import json

COLUMNS = ["id", "time", "kind", "value", "dimensions"]


def _cells(row):
    event_id, time, kind, value, dimensions = row
    return [event_id, time.isoformat(), kind, value, json.dumps(dimensions, sort_keys=True, separators=(",", ":"))]


class CsvWriter:
    def __init__(self, out):
        self._out = out
        self._line = io.StringIO()
        self._csv = csv.writer(self._line)
        self._write(COLUMNS)

    def _write(self, cells):
        self._csv.writerow(cells)
        self._out.write(self._line.getvalue().encode())
        self._line.seek(0)
        self._line.truncate()

    def write(self, row):
        self._write(_cells(row))

    def close(self):
        pass


class JsonLinesWriter:
    def __init__(self, out):
        self._out = out

    def write(self, row):
        event_id, time, kind, value, dimensions = row
        line = {"id": event_id, "time": time.isoformat(), "kind": kind, "value": value, "dimensions": dimensions}
        self._out.write(json.dumps(line, sort_keys=True, separators=(",", ":")).encode() + b"\n")

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

    def write(self, row):
        self._sheet.append(_cells(row))

    def close(self):
        self._book.save(self._out)


WRITERS = {"csv": CsvWriter, "jsonl": JsonLinesWriter, "xlsx": XlsxWriter}
CONTENT_TYPES = {
    "csv": "text/csv",
    "jsonl": "application/x-ndjson",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
