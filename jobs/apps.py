from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The engine: ledger, job types, enqueue, state machine, runner, relay and reconciler."""

    name = "jobs"
    verbose_name = "Jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Job types are declared in each app's tasks.py; import them all once, at start-up, so that a
        # worker knows every type before it forks (per-job imports are a bug).
        from jobs import registry

        registry.autodiscover()
