from django.core.management.base import BaseCommand

from jobs.rollups import aggregate


class Command(BaseCommand):
    help = ("Bring the queues page's chart rollups up to date now (count the attempts that ended since the last "
            "pass, delete rows past JOBS_ROLLUP_KEEP_DAYS); the scheduler does the same every JOBS_ROLLUP_INTERVAL s.")

    def handle(self, *args, **options):
        report = aggregate()
        if report.get("skipped"):
            self.stdout.write("another pass is running; nothing done")
            return
        self.stdout.write(f"counted {report['attempts']} attempt(s) into {report['rows']} minute row(s), through "
                          f"{report['through']:%Y-%m-%d %H:%M:%S} UTC; removed {report['pruned']} old row(s)")
