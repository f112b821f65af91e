from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Outbound webhooks, e-mail and dead-letter alerts: built in its own issue."""

    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"
