"""Who may do what for which guild. Every control-panel page and API answer goes through here."""

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from project.models import Guild, GuildApiToken, Membership

ADMIN_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)
TOKEN_PREFIX = "jdt_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


def guild_ids_for(user) -> set[int]:
    """The guilds whose data ``user`` may read (any membership)."""
    if user is None or not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user=user).values_list("guild_id", flat=True))


def is_guild_admin(user, guild_id) -> bool:
    return bool(user and user.is_authenticated) and Membership.objects.filter(
        user=user, guild_id=guild_id, role__in=ADMIN_ROLES).exists()


def membership(user, guild_id) -> Membership | None:
    """``user``'s membership of the guild (its id, or its slug as a string), with the guild, or None: one
    query for "is this my guild, and what may I do there"."""
    if user is None or not user.is_authenticated:
        return None
    which = {"guild__slug": guild_id} if isinstance(guild_id, str) else {"guild_id": guild_id}
    return Membership.objects.select_related("guild").filter(user=user, **which).first()


def panel_guild(request, slug, *, admin=False, refusal="only the guild's admins may do this"):
    """The guild ``slug`` for a control-panel page, and whether the caller is one of its admins: one
    query. A guild the caller is not a member of is a 404 (whether it exists stays unknown); with
    ``admin=True`` a member who is not one of its admins gets a 403 saying ``refusal``."""
    member = membership(request.user, slug)
    if member is None:
        raise Http404("no such guild")
    is_admin = member.role in ADMIN_ROLES
    if admin and not is_admin:
        raise PermissionDenied(refusal)
    return member.guild, is_admin


def api_token_create(*, guild: Guild, name: str, created_by=None) -> tuple[GuildApiToken, str]:
    """A new token for ``guild``; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = GuildApiToken.objects.create(guild=guild, name=name, prefix=plain[:12], created_by=created_by,
                                         token_hash=hashlib.sha256(plain.encode()).hexdigest())
    return token, plain


def api_token_guild(plain: str) -> Guild | None:
    """The guild a live (not revoked) token acts for, or None."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    token = (GuildApiToken.objects.select_related("guild")
             .filter(token_hash=hashlib.sha256(plain.encode()).hexdigest(), revoked_at__isnull=True).first())
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # At most one write a minute per token: a write (and its commit) per request costs the API dearly.
        GuildApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.guild


def api_token_revoke(token: GuildApiToken):
    GuildApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


