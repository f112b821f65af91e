"""The control panel's webhooks page: a guild's endpoints (add, enable, delete) and their recent
deliveries with every attempt. Guild admins only; another guild's page is a 404, a member's is a 403.
The secret is shown once, on the page that follows its creation, and never listed."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jobs.errors import JobError
from notifications import selectors, services
from notifications.forms import WebhookEndpointForm
from notifications.models import WebhookEndpoint
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
        "deliveries": selectors.recent_deliveries(guild), "created": created, "secret": secret,
    }, status=status)


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
