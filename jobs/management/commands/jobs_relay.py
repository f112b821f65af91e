from django.core.management.base import BaseCommand

from jobs.management.commands._limits import MAX_SECONDS, seconds
from jobs.relay import relay_pending


class Command(BaseCommand):
    help = "Dispatch pending jobs (those that never reached Redis) now."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", default=0.0, help=f"Only rows pending this many seconds (0-{MAX_SECONDS}).")

    def handle(self, *args, older_than, **options):
        older_than = seconds("--older-than", older_than)
        count = relay_pending(older_than=older_than)
        self.stdout.write(f"dispatched {count} pending job(s)")
