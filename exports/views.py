"""The control panel: a guild's jobs with live progress, the export form, downloads, retries.

Server-rendered pages; every page is scoped to the caller's memberships (another guild is a 404), and
writes need a guild admin (a member gets a 403).
"""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from exports import services
from exports.forms import ExportForm
from exports.models import Export
from exports.writers import CONTENT_TYPES
from jobs.errors import JobError
from jobs.models import JobRecord
from project.models import Guild
from project.panel_forms import submit_admin_form
from project.tenancy import guild_ids_for, panel_guild

JOBS_SHOWN = 50


@login_required
@require_GET
def guild_list(request):
    guilds = Guild.objects.filter(pk__in=guild_ids_for(request.user))
    return render(request, "panel/guilds.html", {"guilds": guilds})


@login_required
def guild_home(request, slug):
    guild, admin = panel_guild(request, slug)
    form = ExportForm()
    if request.method == "POST":
        form = ExportForm(request.POST)
        done = submit_admin_form(
            request, form, admin=admin, refused="only the guild's admins may export its analytics",
            save=functools.partial(services.export_request, guild=guild, user=request.user),
            saved="Your export is on its way; it shows below.")
        if done:
            return done
    return _guild_page(request, guild, admin, form, status=400 if form.errors else 200)


def _guild_page(request, guild, admin, form, *, status=200):
    exports = list(Export.objects.filter(guild=guild).select_related("job")[:20])
    for export in exports:
        if export.ready:
            export.download_url = reverse("panel:download", args=[services.download_token(export)])
    jobs = JobRecord.objects.filter(guild=guild).order_by("-created_at")[:JOBS_SHOWN]
    return render(request, "panel/guild.html", {
        "guild": guild, "is_admin": admin, "form": form, "exports": exports, "jobs": jobs,
        "retryable": services.RETRYABLE_STATUSES,
    }, status=status)


@login_required
@require_POST
def retry_export(request, slug, export_id):
    guild, _ = panel_guild(request, slug, admin=True, refusal="only the guild's admins may retry exports")
    export = get_object_or_404(Export, pk=export_id, guild=guild)
    try:
        services.export_retry(export=export, user=request.user)
    except JobError as exc:
        # 409 with the page and why: nothing was retried (a succeeded export already has its file).
        messages.error(request, exc.message)
        return _guild_page(request, guild, True, ExportForm(), status=409)
    messages.success(request, "The export is being made again.")
    return HttpResponseRedirect(reverse("panel:guild", args=[guild.slug]))


@login_required
@require_GET
def download(request, token):
    try:
        export = services.export_for_token(token)
    except JobError as exc:
        return render(request, "panel/link_refused.html", {"message": exc.message}, status=410 if
                      exc.code in ("link_expired", "export_gone") else 403)
    if export.guild_id not in guild_ids_for(request.user):
        raise Http404("no such export")
    chunks = services.export_open(export, user=request.user, correlation_id=request.correlation_id)
    response = StreamingHttpResponse(chunks, content_type=CONTENT_TYPES[export.format])
    response["Content-Disposition"] = (f'attachment; filename="{export.guild.slug}-analytics-{export.start}-'
                                       f'{export.end}.{export.format}"')
    return response
