"""Sentry set-up, only when SENTRY_DSN is given: Django and RQ integrations.

Every event is tagged with the work it came from: ``correlation_id`` and, inside a job, ``job_id``,
``job_type`` and ``guild_id`` (read from ``project.correlation`` when the event is sent). A failing job is
reported once, when it is dead, with its own exception (``report_dead_job``, called by the runner): an
attempt that will be retried raises nothing to RQ (the runner hands RQ a ``Retry``); the ``JobDied`` it
raises to RQ for a dead job, and the log lines that retell the failure (the runner's "is dead", RQ's
traceback), are not sent again.

A DSN Sentry cannot read stops start-up with an ``ImproperlyConfigured`` naming SENTRY_DSN (sentry-sdk's own
``BadDsn`` names no variable); the DSN itself is not echoed, it holds the project's key.
"""

import sys

from project import correlation


def report_dead_job(exc):
    """Send a dead job's exception to Sentry (when it is set up), tagged with the job."""
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is not None and sentry_sdk.get_client().is_active():
        sentry_sdk.capture_exception(exc)


def tag_with_context(event, hint):
    exc_info = (hint or {}).get("exc_info")
    if exc_info and exc_info[0] is not None and exc_info[0].__name__ == "JobDied":
        return None  # reported by report_dead_job with the job's own exception
    tags = event.setdefault("tags", {})
    cid = correlation.get()
    if cid:
        tags.setdefault("correlation_id", cid)
    for name, value in correlation.log_fields().items():
        if value is not None:
            tags.setdefault(name, str(value))
    return event


def init_sentry(dsn, *, debug=False):
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger
    from sentry_sdk.integrations.rq import RqIntegration

    from django.core.exceptions import ImproperlyConfigured
    from sentry_sdk.utils import BadDsn

    try:
        sentry_sdk.init(
            dsn=dsn,
            integrations=[DjangoIntegration(), RqIntegration()],
            send_default_pii=False,
            environment="development" if debug else "production",
            before_send=tag_with_context,
        )
    except BadDsn as exc:
        raise ImproperlyConfigured(f"SENTRY_DSN: not a Sentry DSN like https://<key>@<host>/<project> ({exc})") from None
    for logger in ("rq.worker", "jobs.runner"):
        ignore_logger(logger)
