#!/usr/bin/env python
"""Django's command-line utility for jobdesk.

A setting with a bad value (an ``ImproperlyConfigured`` raised while the settings load or while
``django.setup()`` runs, e.g. from JOBS_TASK_MODULES) is printed as one line, ``manage.py: <message>``, on
stderr with exit status 2, not as a 30-75-line traceback: the message names the variable, the rest is noise
to an operator. Nothing else is caught: any other error, and an ``ImproperlyConfigured`` a command raises
once it runs, keep their traceback.
"""
import os
import sys


def load_settings_or_exit():
    """Load the settings and set Django up, or exit 2 with the ``ImproperlyConfigured`` message on one line."""
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # imports project.settings
    except ImportError:
        return  # no settings module: Django's own handling (``help`` still lists its commands)
    except ImproperlyConfigured as exc:
        refuse(exc)
    try:
        django.setup()  # execute_from_command_line calls it again: a no-op but for logging's set-up
    except ImproperlyConfigured as exc:
        refuse(exc)


def refuse(exc):
    print(f"manage.py: {' '.join(str(exc).split())}", file=sys.stderr)
    sys.exit(2)


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    load_settings_or_exit()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
