from datetime import timedelta

from django.core.management.base import BaseCommand

from jobs.reconciler import RUNNING_GRACE, WAITING_GRACE, reconcile


class Command(BaseCommand):
    help = "Find jobs Redis lost track of (dead workers, lost data) and retry or dead-letter them now."

    def add_arguments(self, parser):
        parser.add_argument("--waiting-grace", type=float, default=WAITING_GRACE.total_seconds(),
                            help="Seconds a queued job may be missing from Redis before it is re-dispatched.")
        parser.add_argument("--running-grace", type=float, default=RUNNING_GRACE.total_seconds())

    def handle(self, *args, waiting_grace, running_grace, **options):
        found = reconcile(waiting_grace=timedelta(seconds=waiting_grace), running_grace=timedelta(seconds=running_grace))
        self.stdout.write(f"{found['lost']} lost running job(s), {found['requeued']} waiting job(s) sent back to the relay")
