"""The periodic system work: the relay and the reconciler, run by ``manage.py rqscheduler`` on every
tick (``jobs.worker.Scheduler``) and on demand by ``manage.py jobs_relay`` / ``jobs_reconcile``."""

import logging

from django.conf import settings
from django.db import close_old_connections

from jobs.reconciler import reconcile
from jobs.relay import relay_pending

log = logging.getLogger(__name__)


def system_tick():
    close_old_connections()
    try:
        relay_pending(older_than=settings.JOBS_RELAY_GRACE)
        reconcile()
    except Exception:  # a tick must never kill the scheduler; the next one tries again
        log.exception("system tick failed")
