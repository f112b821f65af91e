"""The control panel's webhooks page: a guild's endpoints (add, enable, delete) and their recent
deliveries with every attempt. Guild admins only; another guild's page is a 404, a member's is a 403.
The secret is shown once, on the page that follows its creation, and never listed.

Deliveries read in plain words (``attempt_outcome``, ``delivery_state``): "connection refused", "host not
found", "HTTP 502", "retrying (attempt 4 of 5)"; the stored error text, with the exception's name and
errno, stays on the attempt for staff in the admin."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs.errors import JobError
from jobs.models import JobRecord
from notifications import selectors, services
from notifications.forms import WebhookEndpointForm
from notifications.models import WebhookDelivery, WebhookEndpoint
from project.tenancy import panel_guild


def _admin_guild(request, slug):
    return panel_guild(request, slug, admin=True, refusal="only the guild's admins manage its webhooks")[0]


@login_required
def webhooks(request, slug):
    guild = _admin_guild(request, slug)
    form = WebhookEndpointForm()
    if request.method == "POST":
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint, secret = services.webhook_endpoint_create(guild=guild, created_by=request.user,
                                                                    **form.cleaned_data)
            except JobError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return _page(request, guild, WebhookEndpointForm(), created=endpoint, secret=secret, status=201)
    return _page(request, guild, form, status=400 if form.errors else 200)


def _page(request, guild, form, *, created=None, secret=None, status=200):
    return render(request, "notifications/panel/webhooks.html", {
        "guild": guild, "is_admin": True, "form": form, "endpoints": selectors.endpoints_of(guild),
        "deliveries": _in_words(selectors.recent_deliveries(guild), guild.zone), "created": created,
        "secret": secret,
    }, status=status)


def _in_words(deliveries, zone):
    """Each delivery with ``state`` (``delivery_state``) and its attempts' ``outcome`` and ``detail``; one
    query more, for the jobs of deliveries still pending."""
    pending = [d.job_id for d in deliveries if d.status == WebhookDelivery.Status.PENDING and d.job_id]
    jobs = JobRecord.objects.only("id", "status", "attempts", "max_attempts", "run_at").in_bulk(pending)
    for delivery in deliveries:
        delivery.attempt_list = list(delivery.attempts.all())
        for attempt in delivery.attempt_list:
            attempt.outcome, attempt.detail = attempt_outcome(attempt.response_status, attempt.error)
        delivery.state = delivery_state(delivery.status, len(delivery.attempt_list), jobs.get(delivery.job_id),
                                        zone=zone)
    return deliveries


# What the stored error of an attempt without an answer says (outbound.OutboundError's text: the host,
# the exception's name and its message), in words; the first match wins.
NO_ANSWER_WORDS = [
    ("does not resolve", "host not found"),
    ("ConnectionRefused", "connection refused"),
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("Timeout", "timed out"),
    ("SSL", "TLS error"),
    ("Certificate", "TLS error"),
    ("certificate", "TLS error"),
    ("ConnectionReset", "connection reset"),
    ("RemoteDisconnected", "connection closed before an answer"),
    ("BrokenPipe", "connection closed before an answer"),
    ("unreachable", "host unreachable"),
    ("No route to host", "host unreachable"),
]


def attempt_outcome(response_status, error) -> tuple[str, str]:
    """``(outcome, detail)`` of an attempt for the panel: "HTTP 502" or what went wrong without an answer
    ("connection refused", "host not found", "timed out", "TLS error"), and a plain-words detail where
    there is more to say (a 410 disabled the endpoint; a redirect was not followed; the address was
    refused, with why). Never the exception's name or errno."""
    error = error or ""
    if response_status:
        detail = ""
        if response_status == 410:
            detail = "the endpoint was disabled"
        elif 300 <= response_status < 400:
            detail = error or "redirects are not followed"
        return f"HTTP {response_status}", detail
    if error.startswith("refused: "):
        return "refused", error.removeprefix("refused: ")
    for clue, words in NO_ANSWER_WORDS:
        if clue in error:
            return words, ""
    return "no answer", ""


def delivery_state(status, attempts_made, job=None, *, zone=None) -> str:
    """A delivery's state in words: "Delivered", "Failed", "Waiting to be sent", or, while attempts fail
    and more are left, "Retrying (attempt 4 of 5)", with the time of the next one (in ``zone``) while its
    job waits out its backoff."""
    if status != WebhookDelivery.Status.PENDING:
        return WebhookDelivery.Status(status).label
    if not attempts_made:
        return "Waiting to be sent"
    if job is None:
        return f"Retrying (attempt {attempts_made + 1})"
    if job.status in ("dead", "canceled"):
        return "Failed"
    if job.status == "running":
        return f"Retrying (attempt {job.attempts} of {job.max_attempts})"
    words = f"attempt {min(attempts_made + 1, job.max_attempts)} of {job.max_attempts}"
    if job.run_at and job.run_at > timezone.now():
        words += f", at {timezone.localtime(job.run_at, zone):%H:%M:%S}"
    return f"Retrying ({words})"


@login_required
@require_POST
def endpoint_delete(request, slug, endpoint_id):
    guild = _admin_guild(request, slug)
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, guild=guild)
    services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, f"The endpoint {endpoint.url} was deleted.")
    return HttpResponseRedirect(reverse("webhooks:list", args=[guild.slug]))


@login_required
@require_POST
def endpoint_enable(request, slug, endpoint_id):
    guild = _admin_guild(request, slug)
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, guild=guild)
    enabled = request.POST.get("enabled") == "1"
    services.webhook_endpoint_update(endpoint=endpoint, actor=request.user, enabled=enabled)
    messages.success(request, f"The endpoint {endpoint.url} is {'enabled' if enabled else 'disabled'}.")
    return HttpResponseRedirect(reverse("webhooks:list", args=[guild.slug]))
