"""Control-panel API: save a guild's embed overrides and fan them out to the bot's shards."""

from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field, StrictInt, StrictStr, field_validator

from branding import services
from jobs.api import ErrorOut, accepted
from jobs.errors import JobError
from project.api_auth import any_caller, refuse_metrics_token, session_user
from project.tenancy import ADMIN_ROLES, membership

router = Router(tags=["control panel"])


class BrandingIn(Schema):
    guild: StrictInt = Field(description="The guild's id")
    display_name: StrictStr = Field("", description=f"Embed author name, at most {services.MAX_DISPLAY_NAME} characters")
    color: StrictStr = Field("", description="Hex colour like #5865f2 (empty: no override)")
    footer_text: StrictStr = Field("", description=f"At most {services.MAX_FOOTER_TEXT} characters")
    icon_url: StrictStr = Field("", description="An https:// URL (empty: no icon)")

    @field_validator("display_name", "color", "footer_text", "icon_url")
    @classmethod
    def _clean(cls, value, info):
        return services.CLEANERS[info.field_name](value)


class BrandingOut(Schema):
    id: str
    status: str
    correlation_id: str
    status_url: str
    fan_out_id: int
    version: int


@router.post("/domain-branding", auth=any_caller,
             response={202: BrandingOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 411: ErrorOut,
                       413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def save_branding(request, payload_in: BrandingIn):
    """Save a guild's embed overrides (display name, colour, footer text, icon URL) and send them to
    every enabled shard of the bot: 202 at once with the fan-out's parent job (its progress says how many
    shards applied them) and a status URL.

    Guild admins (or the guild's API token) only. A repeat with the same ``Idempotency-Key`` header
    within 24 hours answers with the first save's job; the same key with other values is 422.
    """
    refuse_metrics_token(request)
    guild = _guild_for_admin(request, payload_in.guild)
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > 100:
        raise JobError("Idempotency-Key is over 100 characters", field="Idempotency-Key")
    fan_out, _created = services.branding_save(
        guild=guild, user=session_user(request), idempotency_key=key,
        **payload_in.model_dump(exclude={"guild"}))
    return accepted(request, fan_out.job, fan_out_id=fan_out.pk, version=fan_out.version)


def _guild_for_admin(request, guild_id):
    token_guild = getattr(request, "token_guild", None)
    if token_guild is not None:
        if token_guild.pk != guild_id:
            raise JobError("no such guild for this token", field="guild", code="not_found")
        return token_guild
    member = membership(request.user, guild_id)
    if member is None:
        raise JobError("no such guild among yours", field="guild", code="not_found")
    if member.role not in ADMIN_ROLES:
        raise HttpError(403, "only the guild's admins may change its branding")
    return member.guild
