from django.core.management.base import BaseCommand

from jobs.relay import relay_pending


class Command(BaseCommand):
    help = "Dispatch pending jobs (those that never reached Redis) now."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=0.0, help="Only rows pending this many seconds.")

    def handle(self, *args, older_than, **options):
        count = relay_pending(older_than=older_than)
        self.stdout.write(f"dispatched {count} pending job(s)")
