"""The control panel's audit trail: what happened in a guild, for its admins.

Scoped like every panel page (``project.tenancy``): a guild the caller is not a member of is a 404, a
member who is not one of its admins gets a 403. Paginated through the guild index of the log; the
count stops at 10,000 (``CappedPaginator``), so a busy guild's page stays fast.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit import selectors
from jobs.admin_filters import CappedPaginator
from project.tenancy import panel_guild

PAGE_SIZE = 50


@login_required
@require_GET
def guild_trail(request, slug):
    guild, _ = panel_guild(request, slug, admin=True, refusal="only the guild's admins may read its audit trail")
    page = CappedPaginator(selectors.guild_trail(guild.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "panel/audit_trail.html", {"guild": guild, "is_admin": True, "page": page})
