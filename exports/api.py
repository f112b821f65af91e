"""Control-panel API: ask for an analytics export.

Bad input is one 422 naming every bad field at once (a bad format, a range that ends before it starts and
an unknown metric come back together), like every other field error of the API: the rules are the
service's (``exports.services``), checked here, in the schema, field by field."""

from datetime import date

from ninja import Router, Schema
from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from exports import services
from exports.models import Export
from jobs.api import ErrorOut, accepted, idempotency_key
from project.api_auth import GuildRef, any_caller, guild_for_admin, refuse_metrics_token

router = Router(tags=["control panel"])


class ExportIn(Schema):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is named in a 422, not silently dropped
    guild: GuildRef = Field(description="The guild's id, or its slug")
    format: str = Field(description="csv, jsonl or xlsx")
    start: date
    end: date = Field(description="Inclusive; at most 366 days after start")
    metrics: list[str] = Field(min_length=1, max_length=20)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value):
        if value not in Export.Format.values:
            raise ValueError(f"unknown format {value!r}; use one of {', '.join(Export.Format.values)}")
        return value

    @field_validator("end")
    @classmethod
    def _range(cls, value, info: ValidationInfo):
        start = info.data.get("start")  # absent when start itself is wrong: that is its own error
        if start is not None:
            for problem in services.export_range_problems(start, value):
                raise ValueError(problem.message)
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value):
        unknown = sorted(set(value) - set(services.METRICS))
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(services.METRICS)}")
        return value


class ExportOut(Schema):
    id: str
    export_id: int
    status: str
    correlation_id: str
    status_url: str


@router.post("/analytics/export", auth=any_caller,
             response={202: ExportOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut,
                       413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def request_export(request, export_in: ExportIn):
    """Ask for an export of a guild's analytics: 202 at once with the job id and a status URL.

    Guild admins (or the guild's API token) only. A repeat with the same ``Idempotency-Key`` header
    within 24 hours answers with the first export's job. Bad input is one 422 whose ``errors`` name every
    bad field at once (format, the range, metrics, ...).
    """
    refuse_metrics_token(request)
    guild = guild_for_admin(request, export_in.guild, may="export its analytics")
    key = idempotency_key(request)
    user = request.user if request.user.is_authenticated else None
    export, _created = services.export_request(
        guild=guild, user=user, format=export_in.format, start=export_in.start, end=export_in.end,
        metrics=export_in.metrics, idempotency_key=key,
    )
    return accepted(request, export.job, export_id=export.pk)
