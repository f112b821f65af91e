from django.apps import AppConfig


class BrandingConfig(AppConfig):
    """Embed-override settings and their fan-out to the bot's shards: built in its own issue."""

    name = "branding"
    default_auto_field = "django.db.models.BigAutoField"
