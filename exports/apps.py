from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Analytics and data exports (generate, encrypt, store, deliver)."""

    name = "exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from exports.selectors import export_status
        from jobs.selectors import register_status_extra

        register_status_extra("exports.generate", export_status)
