"""``/healthz``: the process is up (liveness; it checks nothing else). ``/readyz``: jobdesk can take work —
the database answers with every migration applied, Redis answers, and every queue with jobs waiting has a
live worker — else 503 naming the failing part (``jobs.readiness``); Redis durability warnings beside."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    from jobs.readiness import readiness

    found = readiness()
    failing = [part for part, value in found["checks"].items() if value != "ok"]
    body = {"status": "ready" if found["ready"] else "not ready", "failing": failing, "checks": found["checks"],
            "warnings": found["warnings"]}
    return JsonResponse(body, status=200 if found["ready"] else 503)
