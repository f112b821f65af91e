"""Admin: the bot's shard registry (secrets write-only), guild brandings, and each save's fan-out with its
per-shard outcome and a "retry failed shards" action (permission ``branding.retry_fanout``, audited)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import HttpResponseRedirect
from django.urls import reverse

from branding import services
from branding.models import BotShard, FanOut, GuildBranding, ShardDelivery
from jobs.errors import JobError
from project.admin_secrets import RefusesLookupsOnSecrets


class BotShardForm(forms.ModelForm):
    base_url = forms.URLField(max_length=500, assume_scheme="https",
                              help_text="The shard's base URL; /api/bot/branding/apply is added.")
    signing_secret = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: leave empty to keep the current secret.")

    class Meta:
        model = BotShard
        fields = ["shard_id", "base_url", "signing_secret", "enabled"]

    def clean_base_url(self):
        url = self.cleaned_data["base_url"]
        try:
            services.shard_check_url(url)
        except JobError as exc:
            raise forms.ValidationError(exc.message) from None
        return url

    def clean_signing_secret(self):
        secret = self.cleaned_data.get("signing_secret", "")
        if not secret:
            if not self.instance.pk:
                raise forms.ValidationError("a new shard needs its signing secret")
            return self.instance.signing_secret
        if len(secret) < 16:
            raise forms.ValidationError("at least 16 characters")
        return secret


@admin.register(BotShard)
class BotShardAdmin(RefusesLookupsOnSecrets, admin.ModelAdmin):
    form = BotShardForm
    secret_fields = ("signing_secret",)
    list_display = ["shard_id", "base_url", "enabled", "secret", "created_at"]
    list_filter = ["enabled"]
    readonly_fields = ["secret"]

    def delete_view(self, request, object_id, extra_context=None):
        """A shard that was ever sent a fan-out is not deleted (its deliveries are the fan-outs' history,
        kept by ``on_delete=PROTECT``): staff are told to disable it instead, before any confirmation.
        ("Delete selected" meets the same PROTECT and lists what it would have to delete.)"""
        shard = self.get_object(request, unquote(object_id))
        if shard is not None and shard.deliveries.exists() and self.has_delete_permission(request, shard):
            self.message_user(request, f"Shard {shard.shard_id} was not deleted: it has deliveries in past "
                                       "fan-outs, which are kept. Disable it instead (untick Enabled): it is then "
                                       "sent nothing more.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:branding_botshard_change", args=[shard.pk]))
        return super().delete_view(request, object_id, extra_context)

    @admin.display(description="signing secret")
    def secret(self, obj):
        return "••••••" + obj.signing_secret[-2:] if obj and obj.signing_secret else "—"

    def get_fields(self, request, obj=None):
        """Staff who may only view a shard see its secret masked: Django shows a view-only page's form
        fields as their stored values, the write-only secret included."""
        fields = super().get_fields(request, obj)
        if not self.has_change_permission(request, obj) and not (obj is None and self.has_add_permission(request)):
            return [name for name in fields if name != "signing_secret"]
        return fields


@admin.register(GuildBranding)
class GuildBrandingAdmin(admin.ModelAdmin):
    """Read here; guild admins edit branding in the control panel or through the API (which fan it out)."""

    list_display = ["guild", "version", "display_name", "color", "updated_at", "updated_by"]
    readonly_fields = ["guild", "display_name", "color", "footer_text", "icon_url", "version", "updated_at",
                       "updated_by"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ShardDeliveryInline(admin.TabularInline):
    model = ShardDelivery
    extra = 0
    can_delete = False
    fields = readonly_fields = ["shard", "status", "attempts", "last_http_status", "last_attempt_at", "error", "job"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(FanOut)
class FanOutAdmin(admin.ModelAdmin):
    list_display = ["__str__", "guild", "version", "status", "summary", "job_status", "created_at", "finished_at"]
    list_select_related = ["guild", "job"]
    list_filter = ["status"]
    search_fields = ["=correlation_id", "guild__slug"]
    readonly_fields = ["guild", "version", "status", "summary", "snapshot", "job", "actor", "correlation_id",
                       "created_at", "finished_at"]
    exclude = ["idempotency_key", "request_hash", "awaiting"]
    inlines = [ShardDeliveryInline]
    actions = ["retry_failed_shards"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="parent job")
    def job_status(self, obj):
        """The parent job follows its shards: retrying while it waits for them, then succeeded, dead or canceled."""
        return obj.job.status if obj.job_id and obj.job else "—"

    def has_retry_fanout_permission(self, request):
        return request.user.has_perm("branding.retry_fanout")

    @admin.action(description="Retry failed shards", permissions=["retry_fanout"])
    def retry_failed_shards(self, request, queryset):
        done, skipped = 0, []
        for fan_out in queryset:
            try:
                services.fan_out_retry_failed(fan_out=fan_out, actor=request.user)
                done += 1
            except JobError as exc:
                skipped.append(f"{fan_out}: {exc.message}")
        self.message_user(request, f"{done} fan-out(s) sent again to their failed shards.")
        for reason in skipped:
            self.message_user(request, f"Skipped {reason}", level=messages.WARNING)
