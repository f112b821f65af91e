from django.contrib import admin

from project.models import Guild, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Guild)
class GuildAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "=slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
