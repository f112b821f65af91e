"""The audit log keeps taking events while its search indexes are built: audit migration 0007 creates them
(and drops the old ones) CONCURRENTLY on PostgreSQL, outside a transaction, and the indexes it leaves are
the ones the model declares, valid and usable."""

import importlib

import pytest
from django.db import connection

from audit.models import AuditEvent

migration = importlib.import_module("audit.migrations.0007_search_indexes_rollups_reports")

pytestmark = pytest.mark.django_db


class RecordingEditor:
    def __init__(self, vendor):
        self.connection = type("C", (), {"vendor": vendor})()
        self.statements = []

    def execute(self, sql, params=None):
        self.statements.append(sql)


def test_the_search_indexes_are_built_and_dropped_concurrently_on_postgresql():
    assert migration.Migration.atomic is False, "CREATE INDEX CONCURRENTLY cannot run in a transaction"
    for step in (migration.swap_indexes, migration.restore_indexes):
        editor = RecordingEditor("postgresql")
        step(None, editor)
        assert editor.statements and all("CONCURRENTLY" in sql for sql in editor.statements), editor.statements
        sqlite = RecordingEditor("sqlite")
        step(None, sqlite)
        assert not any("CONCURRENTLY" in sql for sql in sqlite.statements), "SQLite (make run) has no CONCURRENTLY"


def test_the_database_holds_exactly_the_indexes_the_model_declares():
    declared = {index.name for index in AuditEvent._meta.indexes}
    declared |= {c.name for c in AuditEvent._meta.constraints}
    with connection.cursor() as cursor:
        cursor.execute("""SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                          JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 'audit_auditevent'""")
        found = dict(cursor.fetchall())
    built = {name for name, *_ in migration.NEW_INDEXES}
    assert built <= declared and built <= set(found), (built, found)
    assert all(found[name] for name in built), f"an index left invalid: {found}"
    assert not {name for name, _ in migration.OLD_INDEXES} & set(found), found
