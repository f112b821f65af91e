from datetime import timedelta

from django.core.management.base import BaseCommand

from jobs.management.commands._limits import MAX_SECONDS, seconds
from jobs.reconciler import RUNNING_GRACE, WAITING_GRACE, reconcile


class Command(BaseCommand):
    help = "Find jobs Redis lost track of (dead workers, lost data) and retry or dead-letter them now."

    def add_arguments(self, parser):
        parser.add_argument("--waiting-grace", default=WAITING_GRACE.total_seconds(),
                            help=f"Seconds a queued job may be missing from Redis before it is re-dispatched (0-{MAX_SECONDS}).")
        parser.add_argument("--running-grace", default=RUNNING_GRACE.total_seconds(),
                            help=f"Seconds past its heartbeat before a running job counts as lost (0-{MAX_SECONDS}).")

    def handle(self, *args, waiting_grace, running_grace, **options):
        waiting_grace = seconds("--waiting-grace", waiting_grace)
        running_grace = seconds("--running-grace", running_grace)
        found = reconcile(waiting_grace=timedelta(seconds=waiting_grace), running_grace=timedelta(seconds=running_grace))
        self.stdout.write(f"{found['lost']} lost running job(s), {found['requeued']} waiting job(s) sent back to the relay")
