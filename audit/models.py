"""Audit events (append-only), the nightly rollups (jobs by type and status, events by guild and action)
and the audit reports staff download."""

from django.conf import settings
from django.db import connections, models, router, transaction


class AppendOnlyError(Exception):
    """An audit event was about to be changed or deleted: the audit log is append-only."""


APPEND_ONLY = ("the audit log is append-only: events are never changed or deleted "
               "(retention removes old ones through AuditEvent.objects.purge_before)")

# The session setting the database guard (migration 0005) checks before it lets a DELETE through.
PURGE_SETTING = "jobdesk.audit_purge"


class AuditEventQuerySet(models.QuerySet):
    """Reads and inserts as usual; ``update()``, ``bulk_update()`` and ``delete()`` raise ``AppendOnlyError``.

    (Django's own ``on_delete=SET_NULL`` of a deleted user or guild goes through the base manager, a
    plain one, so deleting a user still works; the database guard allows exactly that change too.)"""

    def update(self, **kwargs):
        raise AppendOnlyError(APPEND_ONLY)

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(APPEND_ONLY)

    def delete(self):
        raise AppendOnlyError(APPEND_ONLY)

    delete.queryset_only = True


class AuditEventManager(models.Manager.from_queryset(AuditEventQuerySet)):
    def purge_before(self, cutoff, *, batch=5000) -> int:
        """Delete the events created before ``cutoff``, ``batch`` at a time (one short transaction
        each), and return how many: the one way events leave the log, used by retention (which audits
        it). Each batch turns the database guard off for its own transaction only (``SET LOCAL``)."""
        db = router.db_for_write(self.model)
        deleted = 0
        while True:
            with transaction.atomic(using=db):
                if connections[db].vendor == "postgresql":
                    with connections[db].cursor() as cursor:
                        cursor.execute("SELECT set_config(%s, 'on', true)", [PURGE_SETTING])
                oldest = self.using(db).filter(created_at__lt=cutoff).order_by().values("pk")[:batch]
                count = self.using(db).filter(pk__in=oldest)._raw_delete(db)
            deleted += count
            if count < batch:
                return deleted


class AuditEvent(models.Model):
    """One thing that happened: an enqueue, a state change, a staff action, a download.

    ``correlation_id`` ties it to the request and the jobs it caused; ``resource_type`` and
    ``resource_id`` to the object it happened to. Append-only: an event is never changed, and leaves
    the log only through retention (``AuditEvent.objects.purge_before``); on PostgreSQL a trigger
    (migration 0005) refuses any other UPDATE or DELETE, whatever path it comes by.
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
    # Set by the audit.log_event / audit.log_bulk jobs (the caller's key, or the job's id and the event's
    # place in it): a job that runs twice inserts nothing the second time. NULL for every other event.
    event_key = models.CharField(max_length=200, null=True, blank=True, editable=False)

    objects = AuditEventManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # Each admin search and filter has its own index, led by what it matches and followed by the
        # list's order (newest first), so a page of a million-event log reads ~50 index entries.
        indexes = [
            models.Index(fields=["correlation_id", "created_at"], name="audit_correlation_idx"),
            models.Index(fields=["resource_type", "resource_id", "created_at"], name="audit_resource_idx"),
            models.Index(fields=["-created_at", "-id"], name="audit_created_id_idx"),
            models.Index(fields=["action", "-created_at", "-id"], name="audit_action_created_idx"),
            # Most job events have no actor (the worker's) and many no guild: partial indexes.
            models.Index(fields=["actor", "-created_at", "-id"], name="audit_actor_created_idx",
                         condition=models.Q(actor__isnull=False)),
            models.Index(fields=["guild", "-created_at", "-id"], name="audit_guild_created_idx",
                         condition=models.Q(guild__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(fields=["event_key"], condition=models.Q(event_key__isnull=False),
                                    name="audit_event_key_unique"),
        ]

    def __str__(self):
        return f"{self.action} {self.resource_type}:{self.resource_id}"

    def save(self, *args, **kwargs):
        """Insert only: saving an event that is already in the log raises ``AppendOnlyError``."""
        if not self._state.adding:
            raise AppendOnlyError(APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(APPEND_ONLY)


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


class AuditRollup(models.Model):
    """Audit events of one day (UTC), counted by guild and action: the nightly rollup (02:00 UTC).

    Recomputed, never incremented: a rerun of a day replaces its counts (an upsert, and rows of pairs
    that no longer occur removed), so the rollup of a day always equals a direct count of its events
    as they were when it ran. ``guild`` is NULL for events of no guild (system and staff events)."""

    day = models.DateField()
    guild = models.ForeignKey("project.Guild", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                              db_index=False)
    action = models.CharField(max_length=100)
    count = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["-day", "guild", "action"]
        constraints = [
            # Two partial constraints, so that the events of no guild have one row too (NULLs are distinct
            # in a plain unique constraint) on PostgreSQL and on SQLite alike.
            models.UniqueConstraint(fields=["day", "guild", "action"], condition=models.Q(guild__isnull=False),
                                    name="unique_audit_rollup"),
            models.UniqueConstraint(fields=["day", "action"], condition=models.Q(guild__isnull=True),
                                    name="unique_audit_rollup_no_guild"),
        ]
        indexes = [models.Index(fields=["guild", "day"], name="audit_rollup_guild_day_idx")]

    def __str__(self):
        return f"{self.day} {self.guild_id or '-'} {self.action}: {self.count}"


class AuditReport(models.Model):
    """A CSV of the audit rollup over a period (day, guild, action, count), made by the ``audit.report``
    job and stored in the default storage; staff with ``audit.view_auditreport`` download it from the
    admin, and each download is audited."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    start = models.DateField()
    end = models.DateField(help_text="Inclusive.")
    job = models.ForeignKey("jobs.JobRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=200, blank=True, help_text="In the default storage.")
    rows = models.PositiveIntegerField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True, help_text="Bytes.")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"audit report {self.start}..{self.end}"

    @property
    def ready(self):
        return bool(self.file_name and self.completed_at)
