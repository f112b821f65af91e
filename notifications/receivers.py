"""Notifications listen to the jobs engine (``jobs.signals.job_state_changed``), inside the
transaction of the change: a job that went dead is noted for the dead-letter digest and published to
its guild's webhooks ("job.dead"); a succeeded ``exports.generate`` publishes "export.ready" and
e-mails the person who asked. What they send is enqueued there, so it goes only if the change commits.

A failure here is logged and never breaks the job's own change (a savepoint holds this work)."""

import logging

from django.db import transaction

from jobs.signals import listen

log = logging.getLogger(__name__)


def connect():
    listen(on_job_state_changed, dispatch_uid="notifications.job_state_changed", wants=wants)


def wants(new_status, job_type):
    """The changes ``on_job_state_changed`` acts on (``jobs.signals.listen``)."""
    return new_status == "dead" or (new_status == "succeeded" and job_type in (None, "exports.generate"))


def on_job_state_changed(sender, changes, **kwargs):
    for change in changes:
        if change.new == "dead":
            _safely(_dead, change)
        elif change.new == "succeeded" and change.job_type == "exports.generate":
            _safely(_export_ready, change)


def _dead(change):
    from notifications.services import job_dead

    job_dead(change=change)


def _export_ready(change):
    from notifications.services import export_ready

    export_ready(record_id=change.record_id, correlation_id=change.correlation_id)


def _safely(func, change):
    try:
        with transaction.atomic():
            func(change)
    except Exception:
        log.exception("notifications: reacting to job %s (%s -> %s) failed", change.record_id, change.job_type,
                      change.new)
