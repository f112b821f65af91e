"""Webhook endpoints, their deliveries (with every attempt) and dead-letter digests in the admin.

Endpoints are written through ``notifications.services`` (the URL check, the generated secret shown
once in a message, audit events); the secret is never listed nor shown on the form. Deliveries and
digests are read only. Push subscriptions come from browsers: staff see them and may delete them
(a deleted browser gets nothing more until it subscribes again)."""

from django.contrib import admin, messages

from notifications import push_services, services
from project.admin_secrets import RefusesLookupsOnSecrets
from notifications.forms import WebhookEndpointAdminForm
from notifications.models import (
    DeadLetterDigest, PushSubscription, WebhookAttempt, WebhookDelivery, WebhookEndpoint,
)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(RefusesLookupsOnSecrets, admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    secret_fields = ("secret",)
    list_display = ["url", "guild", "events_list", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["url", "guild__slug"]
    list_select_related = ["guild"]
    readonly_fields = ["disabled_at", "created_by", "created_at"]

    @admin.display(description="events")
    def events_list(self, obj):
        return ", ".join(obj.events)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            endpoint, secret = services.webhook_endpoint_create(guild=data["guild"], url=data["url"],
                                                                events=data["events"], created_by=request.user)
            obj.pk = endpoint.pk
            messages.warning(request, f"The signing secret of {endpoint.url}, shown only now: {secret}")
            return
        old = WebhookEndpoint.objects.get(pk=obj.pk)
        old.disabled_reason = data.get("disabled_reason", old.disabled_reason)
        services.webhook_endpoint_update(endpoint=old, actor=request.user, url=data["url"], events=data["events"],
                                         enabled=data["enabled"])

    def delete_model(self, request, obj):
        services.webhook_endpoint_delete(endpoint=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            services.webhook_endpoint_delete(endpoint=endpoint, actor=request.user)


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = readonly_fields = ["number", "at", "response_status", "elapsed_ms", "error"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "event", "endpoint", "status", "job"]
    list_filter = ["status", "event"]
    search_fields = ["=endpoint__guild__slug"]
    list_select_related = ["endpoint"]
    readonly_fields = ["endpoint", "event", "payload", "status", "job", "created_at", "finished_at"]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeadLetterDigest)
class DeadLetterDigestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "job_type", "count", "sent_to"]
    search_fields = ["=job_type"]
    readonly_fields = ["job_type", "count", "created_at", "sent_to", "errors"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(RefusesLookupsOnSecrets, admin.ModelAdmin):
    secret_fields = ("auth", "p256dh")
    list_display = ["user", "short_endpoint", "browser_label", "created_at", "last_success"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    # The browser's keys are not shown: nobody needs to read them.
    fields = readonly_fields = ["user", "endpoint", "user_agent", "created_at", "last_success"]

    @admin.display(description="endpoint")
    def short_endpoint(self, obj):
        return obj.endpoint if len(obj.endpoint) <= 60 else obj.endpoint[:57] + "..."

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        push_services.push_subscription_delete(user=obj.user, endpoint=obj.endpoint)

    def delete_queryset(self, request, queryset):
        for subscription in queryset.select_related("user"):
            push_services.push_subscription_delete(user=subscription.user, endpoint=subscription.endpoint)
