from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One thing that happened: an enqueue, a state change, a staff action, a download.

    ``correlation_id`` ties it to the request and the jobs it caused; ``resource_type`` and
    ``resource_id`` to the object it happened to.
    """

    created_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)
    action = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=100)
    guild = models.ForeignKey("project.Guild", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)
    correlation_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["correlation_id", "created_at"], name="audit_correlation_idx"),
            models.Index(fields=["resource_type", "resource_id", "created_at"], name="audit_resource_idx"),
            models.Index(fields=["-created_at"], name="audit_created_idx"),
            # Most job events have no actor (the worker's) and many no guild: partial FK indexes.
            models.Index(fields=["actor"], name="audit_actor_idx", condition=models.Q(actor__isnull=False)),
            models.Index(fields=["guild"], name="audit_guild_idx", condition=models.Q(guild__isnull=False)),
        ]

    def __str__(self):
        return f"{self.action} {self.resource_type}:{self.resource_id}"


class DailyJobRollup(models.Model):
    """Jobs created on one day, counted by type and final status: the nightly rollup (02:00 UTC)."""

    day = models.DateField()
    job_type = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["-day", "job_type", "status"]
        constraints = [models.UniqueConstraint(fields=["day", "job_type", "status"], name="unique_daily_rollup")]

    def __str__(self):
        return f"{self.day} {self.job_type} {self.status}: {self.count}"
