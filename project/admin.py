from django.contrib import admin

from project.models import Guild, GuildApiToken, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Guild)
class GuildAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "time_zone", "created_at"]
    search_fields = ["name", "=slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(GuildApiToken)
class GuildApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created by ``manage.py`` or the control panel (the plain token is shown once); staff
    revoke them here."""

    list_display = ["name", "guild", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "=prefix", "guild__slug"]
    readonly_fields = ["guild", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        from project.tenancy import api_token_revoke

        for token in queryset:
            api_token_revoke(token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")
