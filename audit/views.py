"""The control panel's audit trail: what happened in a guild, for its admins.

Scoped like every panel page (``project.tenancy``): a guild the caller is not a member of is a 404, a
member who is not one of its admins gets a 403. Paginated through the guild index of the log; the
count stops at 10,000 (``CappedPaginator``), so a busy guild's page stays fast.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from audit import selectors
from jobs.admin_filters import CappedPaginator
from project.models import Guild
from project.tenancy import ADMIN_ROLES, membership

PAGE_SIZE = 50


@login_required
@require_GET
def guild_trail(request, slug):
    guild = get_object_or_404(Guild, slug=slug)
    member = membership(request.user, guild.pk)
    if member is None:
        raise Http404("no such guild")
    if member.role not in ADMIN_ROLES:
        raise PermissionDenied("only the guild's admins may read its audit trail")
    page = CappedPaginator(selectors.guild_trail(guild.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "panel/audit_trail.html", {"guild": guild, "is_admin": True, "page": page})
