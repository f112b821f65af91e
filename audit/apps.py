from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Audit events: who did what to which resource, under which correlation ID."""

    name = "audit"
    verbose_name = "Audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from audit import receivers  # noqa: F401  (connects the job signal)
