from django import forms
from django.contrib import admin

from project import services
from project.admin_secrets import RefusesLookupsOnSecrets
from project.models import Guild, GuildApiToken, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class GuildAdminForm(forms.ModelForm):
    """The same time zone rule as the control panel and the API (``services.clean_time_zone``)."""

    def clean_time_zone(self):
        try:
            return services.clean_time_zone(self.cleaned_data["time_zone"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid_time_zone") from None


@admin.register(Guild)
class GuildAdmin(admin.ModelAdmin):
    form = GuildAdminForm
    list_display = ["name", "slug", "time_zone", "created_at"]
    search_fields = ["name", "=slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        """A staff change of the time zone goes through ``guild_settings_save``, audited like a guild
        admin's (``via: admin``); the admin's change view runs all of it in one transaction."""
        if not (change and "time_zone" in form.changed_data):
            return super().save_model(request, obj, form, change)
        zone, obj.time_zone = obj.time_zone, form.initial["time_zone"]
        super().save_model(request, obj, form, change)
        services.guild_settings_save(guild=obj, user=request.user, via="admin", correlation_id=request.correlation_id,
                                     time_zone=zone)


@admin.register(GuildApiToken)
class GuildApiTokenAdmin(RefusesLookupsOnSecrets, admin.ModelAdmin):
    """Tokens are created by ``manage.py`` or the control panel (the plain token is shown once); staff
    revoke them here."""

    list_display = ["name", "guild", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "=prefix", "guild__slug"]
    readonly_fields = ["guild", "name", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]
    secret_fields = ("token_hash",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        from project.tenancy import api_token_revoke

        for token in queryset:
            api_token_revoke(token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")
