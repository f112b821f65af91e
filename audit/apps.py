from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Audit events: who did what to which resource, under which correlation ID."""

    name = "audit"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db import connection

        from audit import receivers, selectors
        from jobs.timeline import register_timeline

        receivers.connect(job_changes_in_python=connection.vendor != "postgresql")
        register_timeline(selectors.job_timeline)  # the job page's timeline is the audit trail
