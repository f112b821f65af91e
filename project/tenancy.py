"""Who may do what for which guild. Every control-panel page and API answer goes through here."""

import functools
import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from django.utils import timezone

from project.db import from_row, prepared_cursor, value_from_row
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


@functools.cache
def _live_token_sql():
    qn = connection.ops.quote_name
    guild_columns = ", ".join(f"g.{qn(f.column)}" for f in Guild._meta.concrete_fields)
    return (f"SELECT t.{qn('id')}, t.{qn('last_used_at')}, {guild_columns} "
            f"FROM {qn(GuildApiToken._meta.db_table)} t JOIN {qn(Guild._meta.db_table)} g ON g.{qn('id')} = t.{qn('guild_id')} "
            f"WHERE t.{qn('token_hash')} = %s AND t.{qn('revoked_at')} IS NULL")


def _live_token(digest):
    """(token id, last used, guild) of the live token whose hash is ``digest``, or None: one prepared
    statement, read on every API request (the ORM's compilation of it cost 0.5 ms, its run 0.03 ms)."""
    with prepared_cursor() as cursor:
        cursor.execute(_live_token_sql(), [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], value_from_row(GuildApiToken, "last_used_at", row[1]), from_row(Guild, row[2:])


def api_token_guild(plain: str) -> Guild | None:
    """The guild a live (not revoked) token acts for, or None."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    found = _live_token(hashlib.sha256(plain.encode()).hexdigest())
    if found is None:
        return None
    token_id, last_used_at, guild = found
    now = timezone.now()
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        # At most one write a minute per token: a write (and its commit) per request costs the API dearly.
        GuildApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return guild


def api_token_revoke(token: GuildApiToken):
    GuildApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


