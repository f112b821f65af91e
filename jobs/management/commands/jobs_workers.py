from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.supervisor import Pool


class Command(BaseCommand):
    requires_system_checks = []  # as rqworker's (jobs/management/commands/rqworker.py): not at every start
    help = ("Run QUEUE_CONCURRENCY_<DOMAIN> workers per queue domain, restart any that dies, and stop them "
            "gracefully on SIGTERM (running jobs get QUEUE_SHUTDOWN_GRACE seconds).")

    def add_arguments(self, parser):
        parser.add_argument("--domains", default="", help="Comma-separated domains (default: all of them).")
        parser.add_argument("--grace", type=int, default=None,
                            help="Seconds running jobs get on SIGTERM (default: QUEUE_SHUTDOWN_GRACE).")
        parser.add_argument("--worker-ttl", type=int, default=None, help="Passed to each rqworker.")

    def handle(self, *args, domains, grace, worker_ttl, **options):
        chosen = [d.strip() for d in domains.split(",") if d.strip()] or list(settings.QUEUE_DOMAINS)
        unknown = sorted(set(chosen) - set(settings.QUEUE_DOMAINS))
        if unknown:
            raise CommandError(f"--domains: unknown domain(s) {', '.join(unknown)} "
                               f"(known: {', '.join(settings.QUEUE_DOMAINS)})")
        if grace is not None and grace < 0:
            raise CommandError("--grace: must be 0 or more seconds")
        extra = ["--worker-ttl", str(worker_ttl)] if worker_ttl else []
        raise SystemExit(Pool(chosen, grace=grace, extra_args=extra).run())
