"""Writes of the tenancy app: a guild's own settings, changed by its admins (control panel or API).

Promised:
- ``guild_settings_save`` validates first (``JobError`` naming the field; nothing written), then in one
  transaction locks the guild's row, writes what changed and records one audit event
  (``guild.settings_changed``: who, the guild, the previous and the new values, the correlation ID).
  Saving the values the guild already has writes nothing and records nothing.
- A time zone is an IANA name this machine's zone database lists (``zoneinfo.available_timezones()``):
  the same list the control panel offers, so what one accepts the other accepts.
"""

import functools
import zoneinfo

from django.db import transaction

from jobs.errors import JobError
from project.models import Guild

SETTINGS = ("time_zone",)


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (read once: the zone database does not change
    while the process runs)."""
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(time_zone_names())


def clean_time_zone(value) -> str:
    """``value`` stripped, if it is a zone name in the list; else ``ValueError`` saying what is wanted."""
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or name not in _known_zones():
        shown = repr(name)[:70]
        raise ValueError(f"{shown} is not a time zone name (an IANA name such as Europe/Paris, America/New_York "
                         "or UTC)")
    return name


def guild_settings_validate(*, time_zone) -> dict:
    """The cleaned settings; ``JobError`` naming the field (``time_zone``) when one is bad."""
    try:
        return {"time_zone": clean_time_zone(time_zone)}
    except ValueError as exc:
        raise JobError(f"time_zone: {exc}", field="time_zone", code="invalid_time_zone") from None


def guild_settings_save(*, guild: Guild, user=None, via="control_panel", correlation_id=None, **values) -> Guild:
    """Save a guild's settings (its ``time_zone``) and audit the change; returns the guild as saved.

    ``user`` is the person acting (a guild admin, or staff in the admin; None for the guild's API token,
    whose event has no actor); ``via`` says where (``control_panel``, ``api``, ``api_token``, ``admin``)."""
    from audit.services import audit_event_record  # audit sits above tenancy: imported where it is used

    clean = guild_settings_validate(**values)
    actor = user if getattr(user, "pk", None) else None
    with transaction.atomic():
        locked = Guild.objects.select_for_update().get(pk=guild.pk)
        previous = {name: getattr(locked, name) for name in SETTINGS}
        changed = {name: value for name, value in clean.items() if previous[name] != value}
        if changed:
            Guild.objects.filter(pk=locked.pk).update(**changed)
            audit_event_record(
                action="guild.settings_changed", resource_type="guild", resource_id=locked.pk, actor=actor,
                guild=locked, correlation_id=correlation_id,
                data={"changed": {name: {"from": previous[name], "to": value} for name, value in changed.items()},
                      "via": via})
    for name, value in clean.items():
        setattr(guild, name, value)
    return guild


def guild_settings_as_dict(guild: Guild) -> dict:
    """What the API answers: the guild and its settings."""
    return {"id": guild.pk, "slug": guild.slug, "name": guild.name, "time_zone": guild.time_zone}
