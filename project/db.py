"""Fast writes for the ledger's hot paths: multi-row inserts, and prepared statements for the few
statements a worker or a producer runs for every job.

On PostgreSQL, rows go in with ``COPY … FROM STDIN`` in the caller's transaction: several times faster
than a multi-row INSERT built by the ORM, whose per-value preparation dominates a batch of thousands.
For a few rows, and elsewhere (SQLite for ``make run``), it is plain ``bulk_create``. Rows must have their primary key set
or left to the database (``AutoField``); ``save()`` signals are not sent, as with ``bulk_create``.
"""

import functools
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields import AutoFieldMixin


# Below this many rows COPY's extra round trip costs more than the ORM's preparation saves.
COPY_FROM = 10


def insert_rows(model, objects, *, batch_size=2000):
    objects = list(objects)
    if not objects:
        return objects
    if connection.vendor != "postgresql" or len(objects) < COPY_FROM:
        return model.objects.bulk_create(objects, batch_size=batch_size)
    from psycopg.types.json import Jsonb

    fields = [f for f in model._meta.concrete_fields
              if not (isinstance(f, models.AutoField) and getattr(objects[0], f.attname) is None)]
    for field in fields:
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            for obj in objects:
                field.pre_save(obj, add=True)
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([
                    Jsonb(value) if name in json_fields and value is not None else value
                    for name, value in ((f.attname, getattr(obj, f.attname)) for f in fields)
                ])
    return objects


# Fields whose Python value psycopg takes as it is on PostgreSQL (aware datetimes, dates, UUIDs, text,
# numbers): preparing them through the ORM field by field cost more than the INSERT's own round trip.
_AS_IS = (models.CharField, models.TextField, models.IntegerField, models.BooleanField, models.DateTimeField,
          models.DateField, models.UUIDField, models.ForeignKey)


@functools.cache
def _insert_plan(model):
    """The prepared INSERT of one ``model`` row: its SQL, per column the attname and how its value is
    prepared (None: as it is), the fields the database numbers (RETURNING) and those set at insert time."""
    qn = connection.ops.quote_name
    numbered = [f for f in model._meta.concrete_fields if isinstance(f, AutoFieldMixin)]
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
    sql = (f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    if numbered:
        sql += f" RETURNING {', '.join(qn(f.column) for f in numbered)}"
    prepare = [(f.attname, None if isinstance(f, _AS_IS) else f.get_db_prep_save) for f in fields]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    return sql, prepare, numbered, stamped


def insert_one(obj):
    """INSERT the new ``obj`` as ``save(force_insert=True)`` would (``auto_now_add`` times set, a
    database-numbered key read back), as one prepared statement on PostgreSQL: for the rows written on
    every request or enqueue, where the ORM's compilation of an INSERT cost more than the INSERT
    (0.3-0.5 ms measured). Elsewhere (SQLite for ``make run``), ``bulk_create``. No ``save()`` signals
    are sent, as with ``bulk_create``."""
    model = type(obj)
    if connection.vendor != "postgresql":
        model.objects.bulk_create([obj])
        return obj
    sql, prepare, numbered, stamped = _insert_plan(model)
    for field in stamped:
        field.pre_save(obj, add=True)
    params = []
    for attname, prepare_value in prepare:
        value = getattr(obj, attname)
        if isinstance(value, DatabaseDefault):  # the database's default: the ORM knows how to ask for it
            model.objects.bulk_create([obj])
            return obj
        params.append(value if prepare_value is None or value is None else prepare_value(value, connection))
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        if numbered:
            for field, value in zip(numbered, cursor.fetchone()):
                setattr(obj, field.attname, value)
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


@contextmanager
def prepared_cursor():
    """A cursor whose statements PostgreSQL may keep prepared: parameters bound on the server, and a
    statement run a few times on a connection planned once for it (``DATABASE_PREPARED_STATEMENTS``,
    psycopg's ``prepare_threshold``). For the ledger's per-job statements, whose planning costs about as
    much as their execution (0.13 ms of a claim's 0.3 ms, measured). Django's ORM keeps its own
    client-side binding, which never prepares; Django's execute wrappers see these statements as any.

    One such cursor is kept per database connection (each thread has its own) and used again: making
    and closing one per statement cost 35 µs of a 110 µs INSERT, measured.

    Elsewhere than PostgreSQL, and while queries are logged (``DEBUG``, a test capturing them: the
    log shows statements as the ORM's do, with their values), an ordinary cursor.
    """
    db = connections[DEFAULT_DB_ALIAS]  # this thread's; through django.db.connection each access costs a lookup
    if db.vendor != "postgresql" or db.queries_logged:
        with db.cursor() as cursor:
            yield cursor
        return
    db.ensure_connection()
    kept = db.__dict__.get("_prepared_cursor")
    if kept is None or kept[0] is not db.connection:  # a new connection: a new cursor
        from psycopg import Cursor

        db.validate_thread_sharing()
        kept = db._prepared_cursor = (db.connection, db.make_cursor(Cursor(db.connection)))
    yield kept[1]


@functools.cache
def _converters(field):
    """The column of ``field`` and the conversions the ORM applies to its database value."""
    col = field.get_col(field.model._meta.db_table)
    return col, connection.ops.get_db_converters(col) + field.get_db_converters(connection)


def _converted(field, value):
    col, converters = _converters(field)
    for convert in converters:
        value = convert(value, col, connection)
    return value


def from_row(model, values):
    """An instance of ``model`` from a raw row of its concrete fields' columns, in their order, with each
    value converted as the ORM converts it (on PostgreSQL and SQLite alike)."""
    fields = model._meta.concrete_fields
    return model.from_db(connection.alias, [f.attname for f in fields],
                         [_converted(field, value) for field, value in zip(fields, values)])


def value_from_row(model, name, value):
    """One column's raw value, converted as the ORM converts ``model.name``."""
    return _converted(model._meta.get_field(name), value)
