from django.core.management.base import BaseCommand, CommandError

from jobs.retention import BATCH, prune


class Command(BaseCommand):
    help = ("Remove finished jobs the retention settings no longer keep (JOBS_KEEP_SUCCEEDED_DAYS, "
            "JOBS_KEEP_DEAD_DAYS, JOBS_KEEP_FAILED) now; the hourly \"Job retention\" schedule does the same.")

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=BATCH, help="Rows deleted per transaction.")

    def handle(self, *args, batch, **options):
        if batch < 1:
            raise CommandError("--batch: must be a positive integer")
        report = prune(batch=batch)
        by_status = ", ".join(f"{n} {status}" for status, n in sorted(report["by_status"].items())) or "nothing"
        self.stdout.write(f"removed {report['removed']} job record(s) ({by_status}) in {report['seconds']} s")
