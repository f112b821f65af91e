from django.core.management.base import BaseCommand

from jobs.management.commands._limits import whole_number
from jobs.retention import BATCH, prune

# The most rows one transaction deletes: more holds locks too long, and far more overflows the database's integers.
MAX_BATCH = 100_000


class Command(BaseCommand):
    help = ("Remove finished jobs the retention settings no longer keep (JOBS_KEEP_SUCCEEDED_DAYS, "
            "JOBS_KEEP_DEAD_DAYS, JOBS_KEEP_FAILED) now; the hourly \"Job retention\" schedule does the same.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", default=BATCH, help=f"Rows deleted per transaction (1-{MAX_BATCH}).")

    def handle(self, *args, batch, **options):
        batch = whole_number("--batch", batch, low=1, high=MAX_BATCH)
        report = prune(batch=batch)
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(report["by_status"].items())) or "nothing"
        self.stdout.write(f"removed {report['removed']} job record(s) ({by_status}) in {report['seconds']} s")
