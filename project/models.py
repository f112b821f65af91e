"""Tenancy: a guild is the customer a job belongs to; memberships say who may act for it."""

import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The zone names this machine's zone database lists (read once): a guild's, a schedule's."""
    return frozenset(zoneinfo.available_timezones())


def zone_or_utc(name) -> zoneinfo.ZoneInfo:
    """The zone ``name`` names, or UTC when it names none: a row written around ``validate_time_zone`` (or a
    zone this host's database lacks) shows its times in UTC instead of failing every page that shows them."""
    if name in time_zone_names():
        return zoneinfo.ZoneInfo(name)
    return zoneinfo.ZoneInfo("UTC")


def validate_time_zone(value):
    """An IANA time zone name that this machine's zone database knows ("Europe/Paris", "UTC"); not a
    folder of it ("Europe", which ``ZoneInfo`` answered with IsADirectoryError, a 500 in the admin)."""
    if value not in time_zone_names():
        raise ValidationError(f"{value!r} is not a time zone name (IANA, such as Europe/Paris or UTC)",
                              code="invalid_time_zone")


class Guild(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="IANA name (Europe/Paris). Exports show times in it: XLSX cells are Excel dates in this zone.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone_or_utc(self.time_zone)


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    guild = models.ForeignKey(Guild, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "guild"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.guild} ({self.role})"


class GuildApiToken(models.Model):
    """A per-guild API token: it acts as an admin of its guild. Only its SHA-256 is stored."""

    guild = models.ForeignKey(Guild, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to recognise it.")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name} ({self.prefix}…) for {self.guild}"
