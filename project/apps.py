from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Tenancy (guilds and memberships), health views and the site's plumbing."""

    name = "project"
    verbose_name = "Guilds"
    default_auto_field = "django.db.models.BigAutoField"
