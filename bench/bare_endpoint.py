"""The export endpoint's yardstick (bench/export_scale.py): a bare Django view that validates the same
body and enqueues to RQ, nothing else — no ledger, no export row, no token lookup beyond the guild.

Served by the same gunicorn as the real endpoint, with ``DJANGO_SETTINGS_MODULE=bench.bare_settings``
(the project's settings, this module's URLs added), so that both answer under the same settings.
"""

import json
import uuid
from datetime import date

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


urlpatterns = [*project_urlpatterns, path(PATH.lstrip("/"), bare_export)]
