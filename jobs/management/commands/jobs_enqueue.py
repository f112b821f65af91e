"""``manage.py jobs_enqueue <type> --payload '{...}' --user <username>``: enqueue one job from a shell, with
the API's validation and permissions (the user must hold the type's right; internal types never).

Bad input (a payload nested past what the JSON parser takes, a priority that is not a level or a plain
0-9 number, a delay that is not a finite number of seconds within ``jobs.enqueue.MAX_DELAY``) is a
``CommandError`` naming the option: one line and a non-zero exit, never a traceback."""

import json
import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from jobs import registry
from jobs.enqueue import enqueue, refuse_unknown_fields
from jobs.errors import JobError
from jobs.management.commands._limits import number
from jobs.options import BULLMQ_MAX_PRIORITY
from project.models import Guild

# A refused call option named as the option the operator typed.
OPTIONS = {"priority": "--priority", "delay": "--delay"}


class Command(BaseCommand):
    help = "Enqueue one job as a staff member: the payload is validated and the member's right checked as the API does."

    def add_arguments(self, parser):
        parser.add_argument("job_type")
        parser.add_argument("--payload", default="{}", help="the payload, a JSON object")
        parser.add_argument("--user", required=True, help="the staff member enqueueing it (their rights apply)")
        parser.add_argument("--guild", help="the guild's slug, for a job done for a guild")
        parser.add_argument("--priority", default="default", help="high, default, low or a BullMQ-style number")
        parser.add_argument("--delay", help="seconds to wait before it may run (at most 30 days)")

    def handle(self, *args, job_type, payload, user, guild, priority, delay, **options):
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise CommandError(f"--payload: not JSON ({exc})") from None
        except RecursionError:
            raise CommandError("--payload: nested too deeply") from None
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
        if delay is not None:
            delay = number("--delay", delay)  # its bounds are enqueue's (jobs.enqueue.MAX_DELAY)
        if re.fullmatch(r"[0-9]{1,9}", priority):  # ASCII digits only: str.isdigit() takes "²", int() does not
            priority = int(priority)
        elif re.fullmatch(r"[0-9]+", priority):
            raise CommandError(f"--priority: {priority[:12]}… is out of range (a level or a number 0-{BULLMQ_MAX_PRIORITY})")
        try:
            refuse_unknown_fields(registry.check_may_enqueue(job_type, actor), data)
            with transaction.atomic():
                record = enqueue(job_type, data, actor=actor, guild=found_guild, priority=priority, delay=delay)
        except RecursionError:
            raise CommandError("--payload: nested too deeply") from None
        except JobError as exc:
            if not exc.field:
                raise CommandError(exc.message) from None
            message = exc.message  # "delay must be ...", "payload.x: ...": the field is said once, as the option
            if re.match(re.escape(exc.field) + r"[:\s]", message):
                message = message[len(exc.field):].lstrip(": ")
            raise CommandError(f"{OPTIONS.get(exc.field, exc.field)}: {message}") from None
        self.stdout.write(str(record.pk))
        self.stderr.write(f"{job_type} {'enqueued' if record.created else 'already held by this job'}, "
                          f"status {record.status}, correlation ID {record.correlation_id}")
