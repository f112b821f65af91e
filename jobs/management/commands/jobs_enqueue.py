"""``manage.py jobs_enqueue <type> --payload '{...}' --user <username>``: enqueue one job from a shell, with
the API's validation and permissions (the user must hold the type's right; internal types never)."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from jobs import registry
from jobs.enqueue import enqueue, refuse_unknown_fields
from jobs.errors import JobError
from project.models import Guild


class Command(BaseCommand):
    help = "Enqueue one job as a staff member: the payload is validated and the member's right checked as the API does."

    def add_arguments(self, parser):
        parser.add_argument("job_type")
        parser.add_argument("--payload", default="{}", help="the payload, a JSON object")
        parser.add_argument("--user", required=True, help="the staff member enqueueing it (their rights apply)")
        parser.add_argument("--guild", help="the guild's slug, for a job done for a guild")
        parser.add_argument("--priority", default="default", help="high, default, low or a BullMQ-style number")
        parser.add_argument("--delay", type=float, help="seconds to wait before it may run")

    def handle(self, *args, job_type, payload, user, guild, priority, delay, **options):
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise CommandError(f"--payload: not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise CommandError("--payload: must be a JSON object")
        actor = get_user_model().objects.filter(username=user, is_active=True).first()
        if actor is None or not actor.is_staff:
            raise CommandError(f"--user: no active staff member {user!r}")
        found_guild = None
        if guild:
            found_guild = Guild.objects.filter(slug=guild).first()
            if found_guild is None:
                raise CommandError(f"--guild: no guild with slug {guild!r}")
        if priority.isdigit():
            priority = int(priority)
        try:
            refuse_unknown_fields(registry.check_may_enqueue(job_type, actor), data)
            with transaction.atomic():
                record = enqueue(job_type, data, actor=actor, guild=found_guild, priority=priority, delay=delay)
        except JobError as exc:
            where = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"{where}{exc.message}") from None
        self.stdout.write(str(record.pk))
        self.stderr.write(f"{job_type} {'enqueued' if record.created else 'already held by this job'}, "
                          f"status {record.status}, correlation ID {record.correlation_id}")
