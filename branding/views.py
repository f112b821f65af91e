"""The control panel's branding page: the form (errors beside the fields), a live preview of the embed
(static/branding/branding.js), and the latest fan-out with each shard's status. Members may look; only
the guild's admins may save or retry; another guild is a 404.

The status JSON the page polls carries each shard's last attempt as ``at`` (ISO, UTC, as the API gives
it) and ``at_display``, the same time as the page shows it: in the guild's zone, to the second."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from branding import selectors, services
from branding.forms import BrandingForm
from branding.models import FanOut
from jobs.errors import JobError
from project.panel_forms import submit_admin_form
from project.templatetags.panel import when
from project.tenancy import panel_guild


@login_required
def branding_page(request, slug):
    guild, admin = panel_guild(request, slug)
    current = selectors.branding_for(guild)
    form = BrandingForm(initial={f: getattr(current, f) for f in services.FIELDS} if current else None)
    if request.method == "POST":
        form = BrandingForm(request.POST)
        done = submit_admin_form(
            request, form, admin=admin, refused="only the guild's admins may change its branding",
            save=functools.partial(services.branding_save, guild=guild, user=request.user),
            saved="Saved; the bot's shards are being updated below.")
        if done:
            return done
    return _page(request, guild, admin, form, current, status=400 if form.errors else 200)


def _page(request, guild, admin, form, current, *, status=200):
    fan_out = selectors.latest_fan_out(guild)
    return render(request, "panel/branding.html", {
        "guild": guild, "is_admin": admin, "form": form, "branding": current, "fan_out": fan_out,
        "shards": _fan_out_for_panel(fan_out, guild)["shards"] if fan_out else [],
    }, status=status)


def _fan_out_for_panel(fan_out, guild):
    """``selectors.fan_out_as_dict`` with each shard's ``at_display`` in the guild's zone."""
    data = selectors.fan_out_as_dict(fan_out)
    if data is not None:
        with timezone.override(guild.zone):
            for shard in data["shards"]:
                shard["at_display"] = when(shard["at"])
    return data


@login_required
@require_GET
def branding_status(request, slug):
    guild, _ = panel_guild(request, slug)
    return JsonResponse({"fan_out": _fan_out_for_panel(selectors.latest_fan_out(guild), guild)})


@login_required
@require_POST
def retry_failed(request, slug, fan_out_id):
    guild, _ = panel_guild(request, slug, admin=True, refusal="only the guild's admins may retry a fan-out")
    fan_out = get_object_or_404(FanOut, pk=fan_out_id, guild=guild)
    try:
        services.fan_out_retry_failed(fan_out=fan_out, actor=request.user)
    except JobError as exc:
        messages.error(request, exc.message)
        return _page(request, guild, True, BrandingForm(), selectors.branding_for(guild), status=409)
    messages.success(request, "Sending again to the shards that failed.")
    return HttpResponseRedirect(reverse("branding:page", args=[guild.slug]))
