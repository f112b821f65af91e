"""Branding: a guild's embed overrides, the bot's shards, and each save's fan-out to them.

``GuildBranding`` is one row per guild; its ``version`` grows by one with every save, and every shard is
sent that number so that it can refuse anything older than what it holds. A save makes a ``FanOut`` (the
snapshot sent, the parent job) and, when that job runs, one ``ShardDelivery`` per enabled shard: the
per-shard outcome the admin and the control panel show.
"""

from django.conf import settings
from django.db import models


class GuildBranding(models.Model):
    guild = models.OneToOneField("project.Guild", on_delete=models.CASCADE, related_name="branding")
    display_name = models.CharField(max_length=256, blank=True)
    color = models.CharField(max_length=7, blank=True, help_text="#rrggbb")
    footer_text = models.CharField(max_length=2048, blank=True)
    icon_url = models.URLField(max_length=2048, blank=True)
    version = models.PositiveIntegerField(default=0, help_text="Grows by one with every save.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name_plural = "guild brandings"

    def __str__(self):
        return f"branding of {self.guild_id} v{self.version}"


class BotShard(models.Model):
    """A shard of the bot: where its apply endpoint lives and the secret that signs what it is sent."""

    shard_id = models.PositiveIntegerField(unique=True)
    base_url = models.URLField(max_length=500, help_text="The shard's base URL; /api/bot/branding/apply is added.")
    signing_secret = models.CharField(max_length=200, help_text="HMAC-SHA256 secret shared with the shard.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shard_id"]

    def __str__(self):
        return f"shard {self.shard_id}"

    @property
    def apply_url(self):
        return self.base_url.rstrip("/") + "/api/bot/branding/apply"


class FanOut(models.Model):
    """One save's snapshot, sent to every enabled shard by the parent job ``branding.fan_out``."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        APPLIED = "applied", "Applied"  # every shard holds this version (or a newer one)
        FAILED = "failed", "Failed"  # some shard could not be given it; "retry failed shards" sends again
        SUPERSEDED = "superseded", "Superseded"  # a newer save replaced it before it finished

    guild = models.ForeignKey("project.Guild", on_delete=models.CASCADE, related_name="branding_fan_outs")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    job = models.ForeignKey("jobs.JobRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SENDING)
    summary = models.CharField(max_length=200, blank=True)
    awaiting = models.BooleanField(default=False, db_default=False,
                                   help_text="The parent job sent its shards a batch and has not reported its outcome yet.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    correlation_id = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("retry_fanout", "Can retry the failed shards of a branding fan-out")]
        constraints = [
            models.UniqueConstraint(fields=["guild", "version"], name="branding_fanout_version"),
            models.UniqueConstraint(fields=["guild", "idempotency_key"], name="branding_fanout_idem",
                                    condition=~models.Q(idempotency_key="")),
        ]

    def __str__(self):
        return f"fan-out v{self.version} of guild {self.guild_id}"


class ShardDelivery(models.Model):
    """What became of one fan-out at one shard."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        APPLIED = "applied", "Applied"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded"  # the shard has (or is being sent) a newer version
        SKIPPED = "skipped", "Skipped"  # the shard was disabled before it was sent (not a failure)

    fan_out = models.ForeignKey(FanOut, on_delete=models.CASCADE, related_name="deliveries")
    # PROTECT: a shard that was ever sent a fan-out keeps its history; staff disable it instead.
    shard = models.ForeignKey(BotShard, on_delete=models.PROTECT, related_name="deliveries")
    job = models.ForeignKey("jobs.JobRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["shard__shard_id"]
        constraints = [models.UniqueConstraint(fields=["fan_out", "shard"], name="branding_delivery_once")]
        indexes = [models.Index(fields=["shard", "status"], name="branding_delivery_shard_idx")]

    def __str__(self):
        return f"{self.fan_out} → {self.shard}: {self.status}"

    @property
    def error_in_brief(self):
        """What guilds read of a shard's error: its kind ("no answer", "HTTP 500", "refused", "superseded"),
        not the shard's address or the body of its answer, which only staff read (the admin)."""
        return self.error.split(":", 1)[0]


OPEN_DELIVERY = (ShardDelivery.Status.PENDING, ShardDelivery.Status.SENDING, ShardDelivery.Status.RETRYING)
DONE_DELIVERY = (ShardDelivery.Status.APPLIED, ShardDelivery.Status.SUPERSEDED, ShardDelivery.Status.SKIPPED)
