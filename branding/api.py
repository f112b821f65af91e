"""Control-panel API: save a guild's embed overrides and fan them out to the bot's shards."""

from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StrictStr, field_validator

from branding import selectors, services
from branding.models import FanOut
from jobs.api import ErrorOut, accepted, idempotency_key
from project.api_auth import GuildRef, any_caller, guild_for_admin, refuse_metrics_token, session_user, staff_holding
from project.tenancy import guild_ids_for

router = Router(tags=["control panel"])


class BrandingIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, not silently dropped
    guild: GuildRef = Field(description="The guild's id, or its slug")
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
    fan_out_url: str = Field(description="Each shard's outcome and the fan-out's status (sending, applied, failed, superseded)")
    version: int


@router.post("/domain-branding", auth=any_caller,
             response={202: BrandingOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                       413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def save_branding(request, payload_in: BrandingIn):
    """Save a guild's embed overrides (display name, colour, footer text, icon URL) and send them to
    every enabled shard of the bot: 202 at once with the fan-out's parent job (its progress says how many
    shards applied them) and a status URL.

    Guild admins (or the guild's API token) only. A repeat with the same ``Idempotency-Key`` header
    within 24 hours answers with the first save's job; the same key with other values is 422.
    """
    refuse_metrics_token(request)
    guild = guild_for_admin(request, payload_in.guild, may="change its branding")
    key = idempotency_key(request)
    fan_out, _created = services.branding_save(
        guild=guild, user=session_user(request), idempotency_key=key,
        **payload_in.model_dump(exclude={"guild"}))
    return accepted(request, fan_out.job, fan_out_id=fan_out.pk, version=fan_out.version,
                    fan_out_url=request.build_absolute_uri(f"/api/control-panel/domain-branding/fan-outs/{fan_out.pk}"))


@router.get("/domain-branding/fan-outs/{fan_out_id}", auth=any_caller,
            response={200: dict, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut})
def fan_out_status(request, fan_out_id: int):
    """A save's fan-out: its status (sending, applied, failed, superseded), the summary of its shards
    ("2 of 3 shards applied, 1 failed") and each shard's outcome. Staff, the guild's members and its
    token; any other fan-out is a 404, as if it did not exist."""
    refuse_metrics_token(request)
    fan_out = FanOut.objects.filter(pk=fan_out_id).first()
    token_guild = getattr(request, "token_guild", None)
    if token_guild is not None:
        allowed = fan_out is not None and fan_out.guild_id == token_guild.pk
    else:
        allowed = fan_out is not None and (staff_holding(request.user, "branding.view_fanout")
                                           or fan_out.guild_id in guild_ids_for(request.user))
    if not allowed:
        return Status(404, {"error": "not_found", "message": f"no fan-out {fan_out_id}"})
    return Status(200, {"guild": fan_out.guild_id, **selectors.fan_out_as_dict(fan_out)})
