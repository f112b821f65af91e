"""Control-panel API: a guild's own settings (its time zone), changed by its admins or its API token."""

from ninja import Router, Schema
from pydantic import ConfigDict, Field, StrictStr

from jobs.api import ErrorOut
from project import services
from project.api_auth import GuildRef, any_caller, guild_for_admin, refuse_metrics_token, session_user

router = Router(tags=["control panel"])


class GuildSettingsIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, not silently dropped
    guild: GuildRef = Field(description="The guild's id, or its slug")
    time_zone: StrictStr = Field(max_length=64, description="An IANA time zone name (Europe/Paris, UTC): "
                                                            "XLSX exports give their times in it")


class GuildSettingsOut(Schema):
    id: int
    slug: str
    name: str
    time_zone: str


@router.post("/guild/settings", auth=any_caller,
             response={200: GuildSettingsOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                       413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def save_guild_settings(request, payload_in: GuildSettingsIn):
    """Change a guild's settings (its time zone) and answer the guild's settings as saved.

    Guild admins (or the guild's API token) only; a member is a 403, another guild a 404 naming
    ``guild``. A name that is not an IANA time zone is a 400 naming ``time_zone``, and nothing changes.
    A change is recorded in the guild's audit trail (``guild.settings_changed``).
    """
    refuse_metrics_token(request)
    guild = guild_for_admin(request, payload_in.guild, may="change its settings")
    user = session_user(request)
    guild = services.guild_settings_save(guild=guild, user=user, via="api" if user else "api_token",
                                         correlation_id=request.correlation_id, time_zone=payload_in.time_zone)
    return services.guild_settings_as_dict(guild)
