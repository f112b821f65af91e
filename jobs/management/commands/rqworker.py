"""``manage.py rqworker``: django-rq's command, without Django's system checks at every start, and refusing
a queue jobdesk does not have.

Why no checks: they load the whole URL configuration and every admin class (0.14 s of a worker's 0.7 s
start, measured), for a process that serves no URL; a pool restarting a worker, a deploy starting
several, paid them each time. ``manage.py check --deploy`` is the deployment's step for them (README).
This app is listed before ``django_rq`` in ``INSTALLED_APPS`` so that this command is the one run.

Why the queue check: django-rq answers an unknown queue name (or none, which it reads as "default", a
queue jobdesk does not define) with a KeyError traceback. Here it is a ``CommandError`` listing the known
queues: one line and a non-zero exit.
"""

from django.conf import settings
from django.core.management.base import CommandError
from django_rq.management.commands.rqworker import Command as DjangoRQWorkerCommand


class Command(DjangoRQWorkerCommand):
    requires_system_checks = []

    def handle(self, *args, **options):
        known = list(settings.RQ_QUEUES)
        unknown = [name for name in args if name not in settings.RQ_QUEUES]
        if not args or unknown:
            what = f"unknown queue(s) {', '.join(unknown)}" if unknown else "give the queues to work on"
            raise CommandError(f"queues: {what} (known: {', '.join(known)})")
        return super().handle(*args, **options)
