"""``manage.py jobs_status``: the queues page in a terminal."""

from django.core.management.base import BaseCommand

from jobs.queues import queue_overview

COLUMNS = [("queue", "name"), ("waiting", "waiting"), ("running", "running"), ("scheduled", "scheduled"),
           ("retrying", "retrying"), ("dead", "dead"), ("ok/1h", "succeeded_last_hour"),
           ("failed/1h", "failed_last_hour"), ("workers", "workers"), ("state", "paused")]


class Command(BaseCommand):
    help = "Print each queue's waiting, running, scheduled, retrying and dead jobs, the last hour's outcomes, " \
           "its workers and whether it is paused."

    def handle(self, *args, **options):
        rows = []
        for queue in queue_overview():
            cells = []
            for _, key in COLUMNS:
                value = queue[key]
                if key == "workers":
                    value = len(value)
                elif key == "paused":
                    value = "paused" if value else ("no-worker" if queue["waiting"] and not queue["workers"] else "ok")
                cells.append(str(value))
            rows.append(cells)
        headers = [title for title, _ in COLUMNS]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        self.stdout.write("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths))))
        for row in rows:
            self.stdout.write("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
