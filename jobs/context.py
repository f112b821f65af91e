"""What a running job knows about itself, and the job running in this process right now."""

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass

from project import correlation

_current: ContextVar["JobContext | None"] = ContextVar("current_job", default=None)


@dataclass
class JobContext:
    """Passed to every job function beside its validated payload.

    Jobs the function enqueues inherit its correlation ID, actor and guild, and name it as parent.
    """

    record_id: object
    job_type: str
    correlation_id: str
    attempt: int
    max_attempts: int
    guild_id: int | None = None
    actor_id: int | None = None

    def progress(self, percent, message=""):
        """Report progress (0-100) to the ledger; readers see it at once. Never moves backwards."""
        from jobs.models import JobRecord
        from project.text import storable

        percent = max(0, min(100, int(percent)))
        JobRecord.objects.filter(pk=self.record_id, progress__lte=percent).update(
            progress=percent, progress_message=storable(str(message)[:200])
        )

    @property
    def batch(self):
        """For the callback job of a batch (``jobs.batches``): its ``BatchOutcome`` read from the ledger
        (id, total, and the ids of the members that succeeded, died, were canceled); None for other jobs."""
        from jobs.batches import outcome_for_callback

        return outcome_for_callback(self.record_id)

    @property
    def is_last_attempt(self):
        return self.attempt >= self.max_attempts


def current() -> JobContext | None:
    return _current.get()


def bind(ctx: JobContext | None):
    """Make ``ctx`` the current job's, and name the job in every log line until ``unbind``."""
    fields = contextlib.nullcontext() if ctx is None else correlation.bind_fields(
        job_id=str(ctx.record_id), job_type=ctx.job_type, guild_id=ctx.guild_id, actor_id=ctx.actor_id)
    fields.__enter__()
    return _current.set(ctx), fields


def unbind(token):
    token, fields = token
    _current.reset(token)
    fields.__exit__(None, None, None)


