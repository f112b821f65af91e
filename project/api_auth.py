"""Who is calling the API: a logged-in user (session, CSRF on writes), a guild's API token, or the
monitoring token. Routers import these; this module imports no router.

Every endpoint accepts all three kinds of credentials (``any_caller``) and then checks the right it
needs, so the answers tell a caller what is wrong: no valid credentials is a 401 (``unauthenticated``,
with ``WWW-Authenticate``), valid credentials without the right is a 403 naming the right.
"""

import re
import secrets
from typing import Annotated

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.middleware.csrf import CsrfViewMiddleware
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import BeforeValidator, Field, StrictInt

from project.tenancy import ADMIN_ROLES, api_token_guild, membership

# What a 401 answers in its WWW-Authenticate header (RFC 6750); a refused token adds error="invalid_token".
CHALLENGE = 'Bearer realm="jobdesk"'

# request.auth when the caller sent METRICS_TOKEN: monitoring, not a person and not a guild.
METRICS = "metrics-token"


class GuildToken(HttpBearer):
    """A guild's API token (``jdt_…``): acts as an admin of its guild (``request.token_guild``)."""

    def authenticate(self, request, token):
        guild = api_token_guild(token)
        if guild is not None:
            request.token_guild = guild
        return guild


class MetricsToken(HttpBearer):
    """``METRICS_TOKEN`` (for monitoring: queue health, /metrics); unset, no token is accepted."""

    def authenticate(self, request, token):
        expected = settings.METRICS_TOKEN
        return METRICS if expected and secrets.compare_digest(token, expected) else None


class CsrfFailed(Exception):
    """A logged-in session's write without a valid CSRF token (a 403 naming CSRF)."""


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering the reason instead of an HTML page."""

    def _reject(self, request, reason):
        return reason


class SessionAuth(APIKeyCookie):
    """A logged-in user (the session cookie), with Django's CSRF check on writes.

    Unlike ninja's ``django_auth``, the CSRF check runs only once the session is a user's: ninja checks
    it first, so a caller without a session, or with a bad token, was told "CSRF check Failed" (403)
    instead of being asked for credentials (401). A session without its CSRF token is still refused."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False):
            request.csrf_processing_done = False  # the site-wide middleware skipped the (exempt) ninja view
            check = _CsrfCheck(lambda _request: None)
            check.process_request(request)
            reason = check.process_view(request, None, (), {})
            if reason:
                raise CsrfFailed(reason)
        return user

    def authenticate(self, request, key):  # required by APIKeyCookie; __call__ does the work
        return request.user if request.user.is_authenticated else None


# Tokens first: a request that carries a valid bearer token is that token's, whatever cookie it has.
any_caller = [GuildToken(), MetricsToken(), SessionAuth()]


def session_user(request):
    """The logged-in user this request authenticated as, or None (a token's request)."""
    return request.auth if isinstance(request.auth, AbstractBaseUser) else None


def staff_holding(user, permission) -> bool:
    """Whether ``user`` is active staff holding ``permission``: being staff alone grants nothing, as in
    the admin, where a staff member without a role sees no model."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_staff
                and user.has_perm(permission))


def require_staff(request, message="staff only", *, permission=None):
    """The logged-in staff member making this request, holding ``permission`` if one is given; anyone else
    is refused with 403 (``message``, or the permission that is missing)."""
    user = session_user(request)
    if user is None or not user.is_staff:
        raise HttpError(403, message)
    if permission is not None and not staff_holding(user, permission):
        raise HttpError(403, f"needs the permission {permission!r}")
    return user


def refuse_metrics_token(request):
    """The metrics token reads queue health and /metrics, nothing else: 403 elsewhere."""
    if request.auth == METRICS:
        raise HttpError(403, "the metrics token may only read queue health and /metrics")


_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


def _guild_ref(value):
    """One error naming ``guild`` (not each member of the union) for a value that is neither."""
    is_id = isinstance(value, int) and not isinstance(value, bool)
    if not (is_id or (isinstance(value, str) and _SLUG.fullmatch(value))):
        raise ValueError("must be the guild's id (a whole number) or its slug")
    return value


# A guild in a request body: its id, or its slug.
GuildRef = Annotated[StrictInt | Annotated[str, Field(pattern=r"^[-a-zA-Z0-9_]{1,50}$")], BeforeValidator(_guild_ref)]


def guild_for_admin(request, guild_ref, *, may="change it"):
    """The guild ``guild_ref`` (id or slug) names, if the caller administers it: the guild's API token, or
    a session of one of its admins. Another guild, or none, is a 404 naming ``guild`` (as if it did not
    exist); a member who is not an admin is a 403 saying only admins ``may``."""
    from jobs.errors import JobError

    token_guild = getattr(request, "token_guild", None)
    if token_guild is not None:
        if guild_ref not in (token_guild.pk, token_guild.slug):
            raise JobError("no such guild for this token", field="guild", code="not_found")
        return token_guild
    member = membership(request.user, guild_ref)
    if member is None:
        raise JobError("no such guild among yours", field="guild", code="not_found")
    if member.role not in ADMIN_ROLES:
        raise HttpError(403, f"only the guild's admins may {may}")
    return member.guild
