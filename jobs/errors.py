"""The one exception type that carries a user-facing error, and the signals a job function may raise."""


class JobError(Exception):
    """A request the caller can fix: bad payload, unknown type, a transition that is not allowed.

    ``field`` names the offending input (``payload.guild_id``, ``job_type``) when there is one; ``code``
    is a stable machine-readable reason. Views turn it into a 4xx JSON body, admin actions into a
    message, commands into a non-zero exit.
    """

    def __init__(self, message, *, field=None, code="invalid", errors=None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.errors = errors or ([{"field": field, "message": message}] if field else [])

    def as_dict(self):
        body = {"error": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.errors:
            body["errors"] = self.errors
        return body


class JobDied(Exception):
    """Raised to RQ by the runner for a job that is dead in the ledger, so that RQ files it as failed.
    The runner has already logged the death with the job's own traceback; the workers do not log it again."""


class PermanentError(Exception):
    """Raised by a job function when retrying cannot help (the target is gone, the input is wrong).

    The job goes straight to ``dead`` after this attempt, whatever attempts it has left.
    """


class Waiting(Exception):
    """Raised by a job function that has handed its work to other jobs (a batch of children) and ends with
    them: a fan-out's parent, whose status follows its children.

    The attempt is closed as succeeded and the record waits as ``retrying`` (``reason`` in its status
    note) until ``seconds`` from now, a check-back in case nobody wakes it; the wait is not counted against
    its ``max_attempts``. Whoever sees the children end wakes it at once (``jobs.services.wake_job``), and
    its next attempt reads their outcome: it then succeeds, raises ``PermanentError`` (dead) or ``Canceled``.
    """

    def __init__(self, reason, *, seconds):
        super().__init__(reason)
        self.reason = reason
        self.seconds = seconds


class Canceled(Exception):
    """Raised by a job function whose work was called off meanwhile (a newer save superseded it): the job
    ends ``canceled`` with this reason, neither dead nor retried."""
