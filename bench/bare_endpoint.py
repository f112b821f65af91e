"""The export endpoint's yardsticks (bench/export_scale.py): a bare Django view that validates the same
body and enqueues to RQ, nothing else — no ledger, no export row, no token lookup beyond the guild; and the
same view writing two rows in one transaction first (the floor of any durable enqueue).

Served by the same gunicorn as the real endpoint, with ``DJANGO_SETTINGS_MODULE=bench.bare_settings``
(the project's settings, this module's URLs added), so that both answer under the same settings.
"""

import json
import uuid
from datetime import date

from django.db import connection, transaction
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, Field, ValidationError
from rq import Queue
from rq.serializers import JSONSerializer

from jobs.connection import redis_connection
from project.models import Guild
from project.urls import urlpatterns as project_urlpatterns

PATH = "/bench/bare-export"
DURABLE_PATH = "/bench/bare-export-durable"
# What the durable yardstick writes: two rows in one transaction, as the real endpoint writes its export and
# its job (created by bench/export_scale.py's set-up).
DURABLE_TABLES_SQL = [
    "CREATE TABLE IF NOT EXISTS bench_bare_request (id bigserial PRIMARY KEY, guild_id bigint NOT NULL, "
    "body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS bench_bare_job (id uuid PRIMARY KEY, request_id bigint NOT NULL, "
    "payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())",
]


class BareExportIn(BaseModel):
    guild: int
    format: str
    start: date
    end: date
    metrics: list[str] = Field(min_length=1, max_length=20)


@csrf_exempt
def bare_export(request):
    try:
        body = BareExportIn.model_validate(json.loads(request.body))
    except (ValueError, ValidationError) as exc:
        return JsonResponse({"detail": str(exc)[:200]}, status=422)
    if not Guild.objects.filter(pk=body.guild).exists():
        return JsonResponse({"detail": "no such guild", "field": "guild"}, status=404)
    queue = Queue("bench-bare-export", connection=redis_connection(), serializer=JSONSerializer)
    job = queue.enqueue("bench.throughput.noop", body.model_dump(mode="json"), job_id=str(uuid.uuid4()))
    return JsonResponse({"id": job.id, "status": "queued"}, status=202)


@csrf_exempt
def bare_export_durable(request):
    """The same, plus what a durable enqueue cannot avoid: two rows (the request, its job) written in one
    transaction before the answer, the RQ job created once it commits."""
    try:
        body = BareExportIn.model_validate(json.loads(request.body))
    except (ValueError, ValidationError) as exc:
        return JsonResponse({"detail": str(exc)[:200]}, status=422)
    if not Guild.objects.filter(pk=body.guild).exists():
        return JsonResponse({"detail": "no such guild", "field": "guild"}, status=404)
    data, job_id = body.model_dump(mode="json"), str(uuid.uuid4())
    queue = Queue("bench-bare-export", connection=redis_connection(), serializer=JSONSerializer)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_bare_request (guild_id, body) VALUES (%s, %s) RETURNING id",
                       [body.guild, json.dumps(data)])
        request_id = cursor.fetchone()[0]
        cursor.execute("INSERT INTO bench_bare_job (id, request_id, payload) VALUES (%s, %s, %s)",
                       [job_id, request_id, json.dumps({"request_id": request_id})])
        transaction.on_commit(lambda: queue.enqueue("bench.throughput.noop", data, job_id=job_id))
    return JsonResponse({"id": job_id, "status": "queued"}, status=202)


urlpatterns = [*project_urlpatterns, path(PATH.lstrip("/"), bare_export),
               path(DURABLE_PATH.lstrip("/"), bare_export_durable)]
