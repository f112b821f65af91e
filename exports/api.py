"""Control-panel API: ask for an analytics export."""

from datetime import date
from typing import Annotated

from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field, StrictInt

from exports import services
from jobs.api import ErrorOut, accepted
from jobs.errors import JobError
from project.api_auth import any_caller, refuse_metrics_token
from project.tenancy import ADMIN_ROLES, membership

router = Router(tags=["control panel"])


GuildRef = StrictInt | Annotated[str, Field(pattern=r"^[-a-zA-Z0-9_]{1,50}$")]


class ExportIn(Schema):
    guild: GuildRef = Field(description="The guild's id, or its slug")
    format: str = Field(description="csv, jsonl or xlsx")
    start: date
    end: date = Field(description="Inclusive; at most 366 days after start")
    metrics: list[str] = Field(min_length=1, max_length=20)


class ExportOut(Schema):
    id: str
    export_id: int
    status: str
    correlation_id: str
    status_url: str


@router.post("/analytics/export", auth=any_caller,
             response={202: ExportOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 411: ErrorOut,
                       413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def request_export(request, export_in: ExportIn):
    """Ask for an export of a guild's analytics: 202 at once with the job id and a status URL.

    Guild admins (or the guild's API token) only. A repeat with the same ``Idempotency-Key`` header
    within 24 hours answers with the first export's job.
    """
    refuse_metrics_token(request)
    guild = _guild_for_admin(request, export_in.guild)
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 100:
        raise JobError("Idempotency-Key is over 100 characters", field="Idempotency-Key")
    user = request.user if request.user.is_authenticated else None
    export, _created = services.export_request(
        guild=guild, user=user, format=export_in.format, start=export_in.start, end=export_in.end,
        metrics=export_in.metrics, idempotency_key=key,
    )
    return accepted(request, export.job, export_id=export.pk)


def _guild_for_admin(request, guild_id):
    token_guild = getattr(request, "token_guild", None)
    if token_guild is not None:
        if guild_id not in (token_guild.pk, token_guild.slug):
            raise JobError("no such guild for this token", field="guild", code="not_found")
        return token_guild
    member = membership(request.user, guild_id)
    if member is None:
        raise JobError("no such guild among yours", field="guild", code="not_found")
    if member.role not in ADMIN_ROLES:
        raise HttpError(403, "only the guild's admins may export its analytics")
    return member.guild
