"""Reads for the control panel and the admin."""

from branding.models import FanOut, GuildBranding


def branding_for(guild) -> GuildBranding | None:
    return GuildBranding.objects.filter(guild=guild).first()


def latest_fan_out(guild) -> FanOut | None:
    return FanOut.objects.filter(guild=guild).select_related("job").order_by("-version").first()


def fan_out_as_dict(fan_out: FanOut | None) -> dict | None:
    """The latest fan-out and each shard's outcome, for the control panel's live table."""
    if fan_out is None:
        return None
    return {
        "id": fan_out.pk, "version": fan_out.version, "status": fan_out.status, "summary": fan_out.summary,
        "job": str(fan_out.job_id) if fan_out.job_id else None,
        # The parent job's status follows the shards: retrying while it waits for them, then succeeded,
        # dead (a shard failed) or canceled (superseded).
        "job_status": fan_out.job.status if fan_out.job_id and fan_out.job else None,
        "shards": [
            {"shard": d.shard.shard_id, "status": d.status, "attempts": d.attempts,
             "http_status": d.last_http_status, "error": d.error_in_brief,
             "at": d.last_attempt_at.isoformat() if d.last_attempt_at else None}
            for d in fan_out.deliveries.select_related("shard").order_by("shard__shard_id")
        ],
    }
