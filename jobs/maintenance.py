"""The periodic system work: the relay, the reconciler, the due schedules and the charts' rollup, run by
``manage.py rqscheduler`` on every tick (``jobs.worker.Scheduler``) and, the first two, on demand by
``manage.py jobs_relay`` / ``jobs_reconcile``."""

import logging

from django.conf import settings
from django.db import close_old_connections

from jobs.reconciler import reconcile
from jobs.relay import relay_pending
from jobs.rollups import aggregate_if_due
from jobs.schedules import run_due_schedules

log = logging.getLogger(__name__)


def system_tick():
    close_old_connections()
    steps = (
        ("relay", lambda: relay_pending(older_than=settings.JOBS_RELAY_GRACE)),
        ("reconcile", reconcile),
        ("schedules", run_due_schedules),
        ("rollup", aggregate_if_due),  # every JOBS_ROLLUP_INTERVAL seconds (jobs.rollups)
    )
    for name, step in steps:
        try:
            step()
        except Exception:  # one failing step must neither stop the others nor kill the scheduler
            log.exception("system tick: %s failed", name)
