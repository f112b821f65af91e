"""The site root, and the control panel's guild settings page.

The settings page: a guild's admins change its time zone (the form, errors beside the field, CSRF); a
member sees the settings read-only; another guild is a 404. The write goes through
``project.services.guild_settings_save`` (validated, audited)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from jobs.errors import JobError
from project import services
from project.forms import GuildSettingsForm
from project.tenancy import panel_guild


@require_GET
def home(request):
    user = request.user
    return redirect("admin:index" if user.is_authenticated and user.is_staff else "panel:guilds")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def guild_settings(request, slug):
    guild, admin = panel_guild(request, slug)
    form = GuildSettingsForm(initial={"time_zone": guild.time_zone})
    if request.method == "POST":
        if not admin:
            raise PermissionDenied("only the guild's admins may change its settings")
        form = GuildSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.guild_settings_save(guild=guild, user=request.user, correlation_id=request.correlation_id,
                                             **form.cleaned_data)
            except JobError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Saved: this guild's time zone is {guild.time_zone}.")
                return HttpResponseRedirect(request.path)
    return render(request, "panel/guild_settings.html", {
        "guild": guild, "is_admin": admin, "form": form,
        "time_zones": services.time_zone_names() if admin else (),
    }, status=400 if form.errors else 200)
