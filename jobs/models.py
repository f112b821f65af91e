"""The ledger: one ``JobRecord`` per job (its id is the RQ job id) and one ``JobAttempt`` per run.

The ledger is the source of truth; Redis is the transport. Only ``jobs.states`` writes ``status``.
"""

import uuid

from django.conf import settings
from django.db import models


class Status(models.TextChoices):
    PENDING = "pending", "Pending"  # written; not yet confirmed in Redis
    QUEUED = "queued", "Queued"  # in an RQ queue (or its scheduled registry, when run_at is ahead)
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"  # failed, waiting out its backoff in RQ's scheduled registry
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Dead"  # attempts exhausted or a non-retryable error: the dead letters
    CANCELED = "canceled", "Canceled"


TERMINAL_STATUSES = (Status.SUCCEEDED, Status.DEAD, Status.CANCELED)
WAITING_STATUSES = (Status.PENDING, Status.QUEUED, Status.RETRYING)


class Priority(models.TextChoices):
    HIGH = "high", "High"
    DEFAULT = "default", "Default"
    LOW = "low", "Low"


class JobRecord(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job_type = models.CharField(max_length=100)
    queue = models.CharField(max_length=100, help_text="The RQ queue the job is dispatched to.")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.DEFAULT)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Attempts started so far.")
    max_attempts = models.PositiveSmallIntegerField()
    run_at = models.DateTimeField(null=True, blank=True, help_text="Not before this time.")
    correlation_id = models.CharField(max_length=64)
    # Indexes for these three are in Meta: partial, or led by the guild, so that most rows cost none.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False,
    )
    guild = models.ForeignKey("project.Guild", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs",
                              db_index=False)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
        help_text="The job that enqueued this one.", db_index=False,
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, 0-100.")
    progress_message = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)
    last_error_type = models.CharField(max_length=200, blank=True)
    last_error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Worker of the current or last attempt.")
    cancel_requested = models.BooleanField(default=False)
    status_note = models.JSONField(
        default=dict, blank=True, db_default={},
        help_text="Why the record is in its status: reason, the staff member who moved it, attempt details.",
    )
    # Per-call overrides of the type's declaration (jobs.options): {"timeout": s, "backoff": {...},
    # "max_attempts": n}; read by dispatch (RQ's timeout) and retries (backoff) on every attempt.
    options = models.JSONField(default=dict, blank=True, db_default={},
                               help_text="Options given to this enqueue call that override the job type's.")
    # Unique jobs (jobs.unique): the key, the scope it holds for, and until when (scope "period").
    unique_key = models.CharField(max_length=255, null=True, blank=True)
    unique_scope = models.CharField(max_length=8, blank=True, default="", db_default="")
    unique_until = models.DateTimeField(null=True, blank=True)
    # Batches (jobs.batches): the batch this job is a member of; its index is partial (most jobs have none).
    batch = models.ForeignKey("JobBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
                              db_index=False)

    created_at = models.DateTimeField(db_index=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    retrying_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("retry_jobrecord", "Can retry jobs"),
            ("cancel_jobrecord", "Can cancel jobs"),
            ("pause_queue", "Can pause and resume queues"),
            ("enqueue_jobrecord", "Can enqueue jobs of non-internal types by hand (API, schedules)"),
        ]
        indexes = [
            # The changelist's order: the admin adds -id to keep pages stable.
            models.Index(fields=["-created_at", "-id"], name="job_created_id_idx"),
            models.Index(fields=["status", "-created_at"], name="job_status_created_idx"),
            models.Index(fields=["job_type", "-created_at"], name="job_type_created_idx"),
            models.Index(fields=["queue", "status"], name="job_queue_status_idx"),
            models.Index(fields=["status", "queue"], name="job_status_queue_idx"),  # queues page counts
            models.Index(fields=["guild", "-created_at"], name="job_guild_created_idx"),  # also the FK's
            models.Index(fields=["actor"], name="job_actor_idx", condition=models.Q(actor__isnull=False)),
            models.Index(fields=["parent"], name="job_parent_idx", condition=models.Q(parent__isnull=False)),
            models.Index(fields=["correlation_id"], name="job_correlation_idx"),
            # The relay and the reconciler scan non-terminal rows by age.
            models.Index(
                fields=["status", "status_changed_at"], name="job_open_status_idx",
                condition=models.Q(status__in=["pending", "queued", "running", "retrying"]),
            ),
            # The queues page: jobs finished in the last hour.
            models.Index(fields=["succeeded_at"], name="job_succeeded_idx", condition=models.Q(succeeded_at__isnull=False)),
            # Dead letters: grouped by type and error, newest first.
            models.Index(fields=["job_type", "last_error_type", "dead_at"], name="job_dead_idx",
                         condition=models.Q(status="dead")),
            # Unique jobs (jobs.unique): the period scope's look-up under its advisory lock.
            models.Index(fields=["unique_key", "unique_until"], name="job_unique_period_idx",
                         condition=models.Q(unique_scope="period")),
            # Batches: a batch's members (its completion check, its admin page).
            models.Index(fields=["batch", "status"], name="job_batch_idx", condition=models.Q(batch__isnull=False)),
        ]
        constraints = [
            # Unique jobs: one record per key while it has not started ("waiting") or while it has not
            # ended ("active"). The conditions are on status, so leaving the scope needs no write.
            models.UniqueConstraint(
                fields=["unique_key"], name="job_unique_waiting",
                condition=models.Q(unique_scope="waiting", status__in=["pending", "queued"], attempts=0),
            ),
            models.UniqueConstraint(
                fields=["unique_key"], name="job_unique_active",
                condition=models.Q(unique_scope="active", status__in=["pending", "queued", "running", "retrying"]),
            ),
        ]

    def __str__(self):
        return f"{self.job_type} {self.id}"

    @property
    def rq_id(self):
        return str(self.id)

    @property
    def is_terminal(self):
        return self.status in TERMINAL_STATUSES

    @property
    def finished_at(self):
        return self.succeeded_at or self.dead_at or self.canceled_at

    @property
    def duration(self):
        """Time from the first start to the terminal state, when both are known."""
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    def wait(self, timeout=30):
        """Block until this job has ended (succeeded, dead or canceled) or ``timeout`` seconds (at most
        an hour) have passed, then bring this instance up to date from the ledger; returns it.
        Woken by a Redis notification, not by polling (``jobs.waiting``)."""
        from jobs.waiting import wait_for_end

        fresh = wait_for_end(self.pk, timeout)
        for field in self._meta.concrete_fields:
            setattr(self, field.attname, getattr(fresh, field.attname))
        getattr(self, "_prefetched_objects_cache", {}).clear()
        return self


class JobBatch(models.Model):
    """Jobs enqueued together by ``jobs.batches.enqueue_batch`` and the callback job that runs once, when
    every member has ended (succeeded, dead or canceled). ``completed_at`` is set, ``callback`` written
    and how the members ended counted (``*_count``), by one guarded UPDATE in the transaction that
    enqueues the callback. The counts are the batch's outcome once retention has pruned members; the
    row itself goes when retention has pruned every member and the callback (``jobs.retention``)."""

    total = models.PositiveIntegerField(help_text="Members enqueued.")
    callback_type = models.CharField(max_length=100)
    callback_payload = models.JSONField(default=dict, blank=True)
    callback = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="The callback job, once every member has ended.")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    succeeded_count = models.PositiveIntegerField(null=True, blank=True,
                                                  help_text="Members that had succeeded when the batch completed.")
    dead_count = models.PositiveIntegerField(null=True, blank=True,
                                             help_text="Members that were dead when the batch completed.")
    canceled_count = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="Members that were canceled when the batch completed.")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_index=False)
    guild = models.ForeignKey("project.Guild", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)
    correlation_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "job batches"
        indexes = [
            models.Index(fields=["-created_at"], name="batch_created_idx"),
            # The reconciler's look for batches left open by a crash.
            models.Index(fields=["created_at"], name="batch_open_idx", condition=models.Q(completed_at__isnull=True)),
        ]

    def __str__(self):
        return f"batch {self.pk} ({self.total} jobs, then {self.callback_type})"


class Outcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"
    LOST = "lost", "Lost (worker died)"
    CANCELED = "canceled", "Canceled"


class JobAttempt(models.Model):
    record = models.ForeignKey(JobRecord, on_delete=models.CASCADE, related_name="attempt_set")
    number = models.PositiveSmallIntegerField()
    queue = models.CharField(max_length=100, blank=True, help_text="The record's queue, for per-queue counts.")
    worker = models.CharField(max_length=200, blank=True)
    correlation_id = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    retry_delay = models.FloatField(null=True, blank=True, help_text="Seconds of backoff before the next attempt.")

    class Meta:
        ordering = ["record", "number"]
        constraints = [models.UniqueConstraint(fields=["record", "number"], name="unique_attempt_number")]
        indexes = [
            # The queues page: failed attempts per queue in the last hour, from the index alone.
            models.Index(fields=["ended_at", "queue"], name="attempt_failed_idx",
                         condition=models.Q(outcome__in=["failed", "timeout", "lost"])),
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.record_id}"

    @property
    def duration(self):
        return self.ended_at - self.started_at if self.ended_at else None


class Schedule(models.Model):
    """A job enqueued on a cron expression or an interval by ``manage.py rqscheduler``.

    The scheduler reads the table on every tick, so an edit takes effect without a restart; each tick
    moves ``next_run_at`` by compare-and-set, so two schedulers never enqueue the same tick twice. A run
    that could not enqueue (its type removed, its stored payload refused) still moves on; why it failed
    is kept in ``last_error`` until a run enqueues again.
    """

    name = models.CharField(max_length=100, unique=True)
    job_type = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True, help_text="Validated against the job type's schema.")
    cron = models.CharField(max_length=100, blank=True, help_text="Five-field cron expression, e.g. 0 2 * * *")
    interval_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="Or run every N seconds.")
    timezone = models.CharField(max_length=64, default="UTC", help_text="Time zone of the cron expression.")
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_job = models.ForeignKey(JobRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_error = models.TextField(blank=True, default="",
                                  help_text="Why the last run enqueued nothing; cleared by a run that enqueues.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["next_run_at"], name="schedule_due_idx", condition=models.Q(enabled=True))]

    @property
    def zone(self):
        """The schedule's time zone, or UTC when the row names none this host knows (written around the form)."""
        from project.models import zone_or_utc

        return zone_or_utc(self.timezone)

    def __str__(self):
        return self.name


# Run and wait times are counted in these buckets (upper bounds, milliseconds, exclusive; the last bucket
# holds everything from 300 s up): log-spaced 1-2-5 steps, so a percentile read from them is within one
# step of the true value whatever the job's scale. ``jobs.rollups`` fills them; changing the bounds needs
# a migration (the buckets are columns, so that a day's rows sum in SQL).
DURATION_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000)
N_DURATION_BUCKETS = len(DURATION_BUCKETS_MS) + 1


class RollupCounts(models.Model):
    """What finished in one period, per queue and job type: the rollups the queues page's charts read, so
    that a page view never scans the ledger (``jobs.rollups`` writes them from the ledger's indexes).

    Counted by attempt, in the period the attempt ended: ``succeeded`` attempts, ``failed`` attempts (an
    error, a timeout or a lost worker, whether or not the job was retried after it) and, of those,
    ``dead`` (the job's last attempt, which left it dead). Run time is the attempt's (start to end; lost
    attempts have none: their end is when the loss was found); queue wait is from when the attempt could
    start (enqueued, its ``run_at``, a staff retry, or the end of the previous attempt's backoff) to its
    start. ``run_<i>``/``wait_<i>`` count attempts per duration bucket (``DURATION_BUCKETS_MS``): columns,
    so that a range of rows sums in SQL.
    """

    queue = models.CharField(max_length=100)
    job_type = models.CharField(max_length=100)
    succeeded = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    dead = models.IntegerField(default=0)
    run_count = models.IntegerField(default=0)
    run_ms = models.BigIntegerField(default=0, help_text="Sum of run times, ms.")
    wait_count = models.IntegerField(default=0)
    wait_ms = models.BigIntegerField(default=0, help_text="Sum of queue waits, ms.")
    for _i in range(N_DURATION_BUCKETS):
        locals()[f"run_{_i}"] = models.IntegerField(default=0)
    for _i in range(N_DURATION_BUCKETS):
        locals()[f"wait_{_i}"] = models.IntegerField(default=0)
    del _i

    class Meta:
        abstract = True


class JobMinuteStat(RollupCounts):
    """``RollupCounts`` per minute: the last hour's charts."""

    minute = models.DateTimeField(help_text="Start of the minute (UTC).")

    class Meta:
        # One index serves everything: the aggregation's merge, the charts' reads (a range on ``minute``)
        # and the rollup's retention.
        constraints = [models.UniqueConstraint(fields=["minute", "queue", "job_type"], name="job_minute_stat_key")]

    def __str__(self):
        return f"{self.queue} {self.job_type} {self.minute:%Y-%m-%d %H:%M}"


class JobHourStat(RollupCounts):
    """``RollupCounts`` per hour, written beside the minutes by the same pass: the last day's charts and
    the job types' table read 24 rows per queue and type instead of 1,440."""

    hour = models.DateTimeField(help_text="Start of the hour (UTC).")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "queue", "job_type"], name="job_hour_stat_key")]

    def __str__(self):
        return f"{self.queue} {self.job_type} {self.hour:%Y-%m-%d %H:00}"


class RollupMark(models.Model):
    """How far ``jobs.rollups`` has counted: attempts that ended up to ``through`` are in the rollups.
    One row; an aggregation pass holds its lock, so two passes never count the same attempt."""

    name = models.CharField(max_length=50, primary_key=True)
    through = models.DateTimeField()
    ran_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} through {self.through}"
