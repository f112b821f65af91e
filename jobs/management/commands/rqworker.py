"""``manage.py rqworker``: django-rq's command, without Django's system checks at every start.

Why: the checks load the whole URL configuration and every admin class (0.14 s of a worker's 0.7 s
start, measured), for a process that serves no URL; a pool restarting a worker, a deploy starting
several, paid them each time. ``manage.py check --deploy`` is the deployment's step for them (README).
This app is listed before ``django_rq`` in ``INSTALLED_APPS`` so that this command is the one run.
"""

from django_rq.management.commands.rqworker import Command as DjangoRQWorkerCommand


class Command(DjangoRQWorkerCommand):
    requires_system_checks = []
