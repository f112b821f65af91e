"""The site root, and the control panel's guild settings page.

The settings page: a guild's admins change its time zone (the form, errors beside the field, CSRF); a
member sees the settings read-only; another guild is a 404. The write goes through
``project.services.guild_settings_save`` (validated, audited)."""

import functools

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from project import services
from project.forms import GuildSettingsForm
from project.panel_forms import submit_admin_form
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
        form = GuildSettingsForm(request.POST)
        done = submit_admin_form(
            request, form, admin=admin, refused="only the guild's admins may change its settings",
            save=functools.partial(services.guild_settings_save, guild=guild, user=request.user,
                                   correlation_id=request.correlation_id),
            saved=lambda saved_guild: f"Saved: this guild's time zone is {saved_guild.time_zone}.")
        if done:
            return done
    return render(request, "panel/guild_settings.html", {
        "guild": guild, "is_admin": admin, "form": form,
        "time_zones": services.time_zone_names() if admin else (),
    }, status=400 if form.errors else 200)
