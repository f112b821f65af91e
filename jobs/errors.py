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


class PermanentError(Exception):
    """Raised by a job function when retrying cannot help (the target is gone, the input is wrong).

    The job goes straight to ``dead`` after this attempt, whatever attempts it has left.
    """
