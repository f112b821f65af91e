"""Fast multi-row inserts for the ledger's hot paths.

On PostgreSQL, rows go in with ``COPY … FROM STDIN`` in the caller's transaction: several times faster
than a multi-row INSERT built by the ORM, whose per-value preparation dominates a batch of thousands.
For a few rows, and elsewhere (SQLite for ``make run``), it is plain ``bulk_create``. Rows must have their primary key set
or left to the database (``AutoField``); ``save()`` signals are not sent, as with ``bulk_create``.
"""

from django.db import connection, models


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
