from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Outbound webhooks (signed, retried), e-mail jobs and dead-letter alerts."""

    name = "notifications"
    verbose_name = "Notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications import receivers

        receivers.connect()
