"""The ledger's per-job writes as one prepared PostgreSQL statement each: the runner's claim and finish
(used by ``jobs.states`` only; a single record's INSERT is ``project.db.insert_one``); and ``db_value``,
the parameter preparation raw ledger statements share.

A run writes the ledger twice: the claim (record → running, attempt opened) and the finish (record →
its outcome, attempt closed). As separate statements in a transaction that is BEGIN, two or three
statements and COMMIT, twice per job; as one statement with data-modifying CTEs it is one statement,
its own transaction in autocommit, twice per job. The audit events follow by trigger inside the same
statement. Both keep the state machine's compare-and-set: nothing is written unless the record is
still in an expected status (and, for the finish, still on the same attempt).

Each runs through ``project.db.prepared_cursor``: planned once per connection instead of once per job,
and read back without the ORM's query machinery (the record is built by ``project.db.from_row``).
"""

import functools

from django.db import connection

from jobs.models import JobAttempt, JobRecord, Outcome, Status
from project.db import from_row, prepared_cursor

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


def _claim_ctes(n_expected):
    return f"""
        claimed AS (
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
        )"""


def _finish_ctes(record_names, attempt_names):
    record_set = ", ".join(f"{_column(_RECORD, name)} = %s" for name in record_names)
    attempt_set = ", ".join(f"{_column(_ATTEMPT, name)} = %s" for name in attempt_names)
    attempts = _qn(_ATTEMPT.db_table)
    return f"""
        finished AS (
            UPDATE {_qn(_RECORD.db_table)} SET {record_set}
            WHERE id = %s AND status = %s AND attempts = %s
            RETURNING id
        ), finished_attempt AS (
            UPDATE {attempts} SET {attempt_set}
            FROM finished WHERE {attempts}.id = %s AND {attempts}.record_id = finished.id
            RETURNING {attempts}.id
        )"""


def _finish_params(*, record_pk, attempt_pk, number, record_values, attempt_values):
    return [
        *(db_value(JobRecord, name, value) for name, value in record_values.items()),
        db_value(JobRecord, "id", record_pk), Status.RUNNING, number,
        *(db_value(JobAttempt, name, value) for name, value in attempt_values.items()),
        attempt_pk,
    ]


@functools.cache
def _claim_sql(n_expected, after=None):
    """The claim; with ``after`` (the column names of a finish), that finish first, in the same statement,
    and a last column saying whether it was written."""
    record_columns = ", ".join(f"claimed.{_qn(f.column)}" for f in _RECORD.concrete_fields)
    if after is None:
        return f"WITH {_claim_ctes(n_expected)} SELECT {record_columns}, opened.id AS attempt_pk FROM claimed, opened"
    return f"""
        WITH {_finish_ctes(*after)}, {_claim_ctes(n_expected)}
        SELECT {record_columns}, opened.id AS attempt_pk, (SELECT count(*) FROM finished_attempt) AS finished
        FROM (SELECT 1) AS one LEFT JOIN claimed ON true LEFT JOIN opened ON true
    """


def claim(record_id, *, worker, now, expected, note, after=None):
    """``(record, attempt, written)``: the record and its new attempt if the record was in ``expected``
    and is now running, else ``(None, None, written)``.

    ``after``, ``finish``'s keyword arguments, is an earlier job's end written by the same statement,
    first (one commit for both); ``written`` says whether it was (None without ``after``)."""
    pk = db_value(JobRecord, "id", record_id)
    started = db_value(JobRecord, "started_at", now)
    params = [Status.RUNNING, started, started, worker, db_value(JobRecord, "status_note", note), pk, *expected,
              worker, started, Outcome.RUNNING]
    names = None
    if after is not None:
        names = (tuple(after["record_values"]), tuple(after["attempt_values"]))
        params = _finish_params(**after) + params
    with prepared_cursor() as cursor:
        cursor.execute(_claim_sql(len(expected), names), params)
        row = cursor.fetchone()
    written = None
    if after is not None:
        written, row = row[-1] == 1, row[:-1]
        if row[0] is None:
            row = None
    if row is None:
        return None, None, written
    record = from_row(JobRecord, row[:-1])
    attempt = JobAttempt(
        pk=row[-1], record=record, number=record.attempts, queue=record.queue, worker=worker,
        correlation_id=record.correlation_id, started_at=now, outcome=Outcome.RUNNING,
    )
    attempt._state.adding = False
    return record, attempt, written


def finish(record_pk, attempt_pk, *, number, record_values, attempt_values):
    """Write ``record_values`` on a record that is running attempt ``number`` and ``attempt_values`` on
    that attempt, in one statement; True if the record was still there to finish."""
    sql = f"WITH {_finish_ctes(tuple(record_values), tuple(attempt_values))} SELECT count(*) FROM finished_attempt"
    with prepared_cursor() as cursor:
        cursor.execute(sql, _finish_params(record_pk=record_pk, attempt_pk=attempt_pk, number=number,
                                           record_values=record_values, attempt_values=attempt_values))
        return cursor.fetchone()[0] == 1
