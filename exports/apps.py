from django.apps import AppConfig


class ExportsConfig(AppConfig):
    """Analytics and data exports (generate, encrypt, store, deliver): built in its own issue."""

    name = "exports"
    default_auto_field = "django.db.models.BigAutoField"
