"""Who is calling the API: a logged-in user (session, CSRF on writes), a guild's API token, or the
monitoring token. Routers import these; this module imports no router."""

import secrets

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, django_auth

from project.tenancy import api_token_guild

MAX_BODY = 64 * 1024


class GuildToken(HttpBearer):
    def authenticate(self, request, token):
        guild = api_token_guild(token)
        if guild is not None:
            request.token_guild = guild
        return guild


class MetricsToken(HttpBearer):
    """``METRICS_TOKEN`` (for monitoring: queue health, /metrics); unset, no token is accepted."""

    def authenticate(self, request, token):
        expected = settings.METRICS_TOKEN
        return bool(expected) and secrets.compare_digest(token, expected) or None


session_or_token = [GuildToken(), django_auth]


def check_body_size(request: HttpRequest):
    length = request.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise HttpError(413, f"the request body is over {MAX_BODY // 1024} KiB")
