"""The audit log in the admin: read only. Events are append-only (``audit.models``): no change, no
delete, no delete action; retention is the only thing that removes them."""

from django.contrib import admin

from audit.models import AuditEvent, DailyJobRollup


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    actions = None
    list_display = ["created_at", "action", "resource_type", "resource_id", "actor", "guild", "correlation_id"]
    list_filter = ["action", "resource_type"]
    search_fields = ["=correlation_id", "=resource_id"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "guild"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DailyJobRollup)
class DailyJobRollupAdmin(admin.ModelAdmin):
    list_display = ["day", "job_type", "status", "count"]
    list_filter = ["status"]
    date_hierarchy = "day"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
