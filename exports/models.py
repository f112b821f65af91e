"""Analytics events (what guilds export) and exports (one request, its job and its encrypted file)."""

from django.conf import settings
from django.db import models


class AnalyticsEvent(models.Model):
    guild = models.ForeignKey("project.Guild", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=50)
    time = models.DateTimeField()
    value = models.FloatField(default=1.0)
    dimensions = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["guild", "time"], name="analytics_guild_time_idx")]

    def __str__(self):
        return f"{self.kind} {self.time:%Y-%m-%d %H:%M}"


class Export(models.Model):
    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON Lines"
        XLSX = "xlsx", "Excel (XLSX)"

    guild = models.ForeignKey("project.Guild", on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    format = models.CharField(max_length=5, choices=Format.choices)
    start = models.DateField()
    end = models.DateField(help_text="Inclusive.")
    metrics = models.JSONField(default=list)
    job = models.ForeignKey("jobs.JobRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=100, blank=True,
                                       help_text="The API caller's Idempotency-Key: unique per guild (24 hours).")
    request_hash = models.CharField(max_length=64, blank=True,
                                    help_text="SHA-256 of the request (canonical JSON) that used the key.")
    file_name = models.CharField(max_length=200, blank=True, help_text="In the default storage, encrypted.")
    key_id = models.CharField(max_length=32, blank=True)
    size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of the plaintext file.")
    rows = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the plaintext file.")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["guild", "-created_at"], name="export_guild_created_idx"),
            models.Index(fields=["expires_at"], name="export_expiry_idx"),
        ]
        constraints = [
            # Two concurrent requests with one key cannot both insert: the second waits for the first's
            # commit and fails, and exports.services answers it with the first export.
            models.UniqueConstraint(fields=["guild", "idempotency_key"], condition=~models.Q(idempotency_key=""),
                                    name="export_idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.get_format_display()} export of {self.guild} {self.start}..{self.end}"

    @property
    def ready(self):
        return bool(self.file_name and self.completed_at)
