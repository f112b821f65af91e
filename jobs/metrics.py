"""``GET /metrics``: Prometheus text, read on each scrape from Redis and the ledger's indexes.

Staff (session) or ``Authorization: Bearer $METRICS_TOKEN``. Every figure comes from an index or a Redis
key: no count over the whole ledger.
"""

import secrets

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from jobs.models import JobRecord, Status
from jobs.queues import queue_overview
from project.api_auth import staff_holding

OPEN = (Status.PENDING, Status.QUEUED, Status.RUNNING, Status.RETRYING)


class LedgerCollector:
    def collect(self):
        rows = queue_overview()
        per_queue = {
            "waiting": ("jobdesk_queue_waiting", "Jobs waiting in the RQ queue."),
            "running": ("jobdesk_queue_running", "Jobs running now."),
            "scheduled": ("jobdesk_queue_scheduled", "Jobs delayed or waiting out a backoff in RQ."),
            "dead": ("jobdesk_queue_dead", "Dead jobs (the dead letters)."),
            "succeeded_last_hour": ("jobdesk_queue_succeeded_last_hour", "Jobs that succeeded in the last hour."),
            "failed_last_hour": ("jobdesk_queue_failed_attempts_last_hour", "Attempts that failed in the last hour."),
        }
        for key, (name, documentation) in per_queue.items():
            family = GaugeMetricFamily(name, documentation, labels=["queue"])
            for row in rows:
                family.add_metric([row["name"]], row[key])
            yield family
        paused = GaugeMetricFamily("jobdesk_queue_paused", "1 when the queue is paused.", labels=["queue"])
        workers = GaugeMetricFamily("jobdesk_queue_workers", "Workers listening to the queue.", labels=["queue"])
        for row in rows:
            paused.add_metric([row["name"]], int(row["paused"]))
            workers.add_metric([row["name"]], len(row["workers"]))
        yield paused
        yield workers
        jobs = GaugeMetricFamily("jobdesk_jobs_open", "Unfinished jobs in the ledger by status.", labels=["status"])
        counts = dict(JobRecord.objects.filter(status__in=OPEN).order_by().values_list("status")
                      .annotate(n=Count("*")))
        for status in OPEN:
            jobs.add_metric([status], counts.get(status, 0))
        yield jobs


@require_GET
def metrics(request):
    header = request.headers.get("Authorization", "")
    token_ok = bool(settings.METRICS_TOKEN) and secrets.compare_digest(header, f"Bearer {settings.METRICS_TOKEN}")
    if not token_ok and not staff_holding(request.user, "jobs.view_jobrecord"):
        if request.user.is_authenticated:  # who it is is known; the right is missing
            return JsonResponse({"error": "forbidden", "message": "the metrics token, or staff holding the "
                                 "permission 'jobs.view_jobrecord'"}, status=403)
        response = JsonResponse({"error": "unauthenticated", "message": "log in as staff or send the metrics token"},
                                status=401)
        response["WWW-Authenticate"] = 'Bearer realm="jobdesk"'
        return response
    registry = CollectorRegistry()
    registry.register(LedgerCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
