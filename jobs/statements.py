"""The runner's two hot writes as one PostgreSQL statement each (used by ``jobs.states`` only), and
``db_value``, the parameter preparation raw ledger statements share.

A run writes the ledger twice: the claim (record → running, attempt opened) and the finish (record →
its outcome, attempt closed). As separate statements in a transaction that is BEGIN, two or three
statements and COMMIT, twice per job; as one statement with data-modifying CTEs it is one statement,
its own transaction in autocommit, twice per job. The audit events follow by trigger inside the same
statement. Both keep the state machine's compare-and-set: nothing is written unless the record is
still in an expected status (and, for the finish, still on the same attempt).
"""

import functools

from django.db import connection

from jobs.models import JobAttempt, JobRecord, Outcome, Status

_RECORD = JobRecord._meta
_ATTEMPT = JobAttempt._meta


def _qn(name):
    return connection.ops.quote_name(name)


def _column(meta, name):
    return _qn(meta.get_field(name).column)


def db_value(model, name, value):
    """``value`` of field ``name`` as the database takes it in a raw statement's parameters."""
    field = model._meta.get_field(name)
    return field.get_db_prep_save(field.to_python(value) if field.primary_key else value, connection)


@functools.cache
def _claim_sql(n_expected):
    record_columns = ", ".join(f"claimed.{_qn(f.column)}" for f in _RECORD.concrete_fields)
    return f"""
        WITH claimed AS (
            UPDATE {_qn(_RECORD.db_table)}
            SET status = %s, status_changed_at = %s, attempts = attempts + 1,
                started_at = COALESCE(started_at, %s), worker = %s,
                status_note = %s::jsonb || jsonb_build_object('attempt', attempts + 1)
            WHERE id = %s AND status IN ({", ".join(["%s"] * n_expected)}) AND NOT cancel_requested
            RETURNING *
        ), opened AS (
            INSERT INTO {_qn(_ATTEMPT.db_table)}
                (record_id, number, queue, worker, correlation_id, started_at, outcome, error_type, error_message,
                 traceback)
            SELECT id, attempts, queue, %s, correlation_id, %s, %s, '', '', '' FROM claimed
            RETURNING id
        )
        SELECT {record_columns}, opened.id AS attempt_pk FROM claimed, opened
    """


def claim(record_id, *, worker, now, expected, note):
    """``(record, attempt)`` if the record was in ``expected`` and is now running, else ``(None, None)``."""
    pk = db_value(JobRecord, "id", record_id)
    started = db_value(JobRecord, "started_at", now)
    rows = list(JobRecord.objects.raw(_claim_sql(len(expected)), [
        Status.RUNNING, started, started, worker, db_value(JobRecord, "status_note", note), pk, *expected,
        worker, started, Outcome.RUNNING,
    ]))
    if not rows:
        return None, None
    record = rows[0]
    attempt = JobAttempt(
        pk=record.attempt_pk, record=record, number=record.attempts, queue=record.queue, worker=worker,
        correlation_id=record.correlation_id, started_at=now, outcome=Outcome.RUNNING,
    )
    attempt._state.adding = False
    return record, attempt


def finish(record_pk, attempt_pk, *, number, record_values, attempt_values):
    """Write ``record_values`` on a record that is running attempt ``number`` and ``attempt_values`` on
    that attempt, in one statement; True if the record was still there to finish."""
    record_set = ", ".join(f"{_column(_RECORD, name)} = %s" for name in record_values)
    attempt_set = ", ".join(f"{_column(_ATTEMPT, name)} = %s" for name in attempt_values)
    sql = f"""
        WITH finished AS (
            UPDATE {_qn(_RECORD.db_table)} SET {record_set}
            WHERE id = %s AND status = %s AND attempts = %s
            RETURNING id
        )
        UPDATE {_qn(_ATTEMPT.db_table)} SET {attempt_set}
        FROM finished WHERE {_qn(_ATTEMPT.db_table)}.id = %s AND {_qn(_ATTEMPT.db_table)}.record_id = finished.id
    """
    params = [
        *(db_value(JobRecord, name, value) for name, value in record_values.items()),
        db_value(JobRecord, "id", record_pk), Status.RUNNING, number,
        *(db_value(JobAttempt, name, value) for name, value in attempt_values.items()),
        attempt_pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1
