"""Reads of notifications for the control panel and the admin."""

from django.db.models import Prefetch

from notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

RECENT_DELIVERIES = 30


def endpoints_of(guild):
    return list(WebhookEndpoint.objects.filter(guild=guild).order_by("pk"))


def recent_deliveries(guild, limit=RECENT_DELIVERIES):
    """The guild's newest deliveries, each with its attempts (two queries)."""
    return list(WebhookDelivery.objects.filter(endpoint__guild=guild).select_related("endpoint")
                .prefetch_related(Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number", "pk")))
                .order_by("-created_at", "-pk")[:limit])
