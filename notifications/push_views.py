"""A person's Web Push subscriptions: the control-panel page that subscribes this browser, the JSON
endpoint the page (or any client with the session) calls, and the service worker that shows the pushes.

``POST /panel/me/push/subscriptions`` takes a ``PushSubscription.toJSON()`` body (``endpoint``,
``keys.p256dh``, ``keys.auth``) and answers 201 with the subscription; ``DELETE`` with ``{"endpoint": ...}``
forgets it (204, or 404 if the person has none there). A person who is not logged in gets 401, a missing
or wrong CSRF token 403, bad input 400 naming the field, all as JSON."""

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from jobs.errors import JobError
from notifications import push_services
from notifications.models import PushSubscription
from project.text import unstorable_message, unstorable_text

MAX_BODY = 4096


@login_required
def push_page(request):
    return render(request, "notifications/push/page.html", {
        "push_enabled": push_services.push_enabled(), "vapid_public_key": settings.VAPID_PUBLIC_KEY,
        "subscriptions": PushSubscription.objects.filter(user=request.user).order_by("-created_at"),
    })


def _error(status, code, message, field=None):
    return JsonResponse(JobError(message, field=field, code=code).as_dict(), status=status)


@csrf_exempt  # checked below, so that a refusal is JSON like every other answer here
@never_cache
def subscriptions(request):
    if request.method not in ("POST", "DELETE"):
        response = _error(405, "method_not_allowed", "use POST to subscribe or DELETE to unsubscribe")
        response["Allow"] = "POST, DELETE"
        return response
    if not request.user.is_authenticated:
        return _error(401, "not_authenticated", "log in first")
    if CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None:
        return _error(403, "csrf", "missing or wrong CSRF token (send the csrftoken cookie's value as X-CSRFToken)")
    if len(request.body) > MAX_BODY:
        return _error(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(request.body or b"null")
        unstorable = unstorable_text(body, "") if isinstance(body, dict) else None
    except ValueError:
        return _error(400, "invalid_json", "the body is not JSON")
    except RecursionError:
        return _error(400, "invalid_json", "the body is nested too deeply")
    if not isinstance(body, dict):
        return _error(400, "invalid", "send a JSON object", field="endpoint")
    if unstorable is not None:
        return _error(400, "invalid", unstorable_message(unstorable), field=unstorable or "body")
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    try:
        if request.method == "DELETE":
            found = push_services.push_subscription_delete(user=request.user, endpoint=body.get("endpoint"))
            if not found:
                return _error(404, "not_found", "you have no subscription at this endpoint", field="endpoint")
            return HttpResponse(status=204)
        subscription = push_services.push_subscription_save(
            user=request.user, endpoint=body.get("endpoint"), p256dh=keys.get("p256dh"), auth=keys.get("auth"),
            user_agent=request.headers.get("User-Agent", ""))
    except JobError as exc:
        return JsonResponse(exc.as_dict(), status=409 if exc.code in ("push_disabled", "endpoint_taken") else 400)
    return JsonResponse({"id": subscription.pk, "endpoint": subscription.endpoint,
                         "created_at": subscription.created_at.isoformat()}, status=201)


def service_worker(request):
    """The service worker (served from here so that its scope is the push page's folder)."""
    response = HttpResponse(render_to_string("notifications/push/sw.js"), content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response
