"""Schedules in the admin: cron or interval, the payload validated against the job type, and only the
job types the staff member may enqueue by hand. Run times are shown in the schedule's own time zone,
named ("2026-12-08 04:00 CET (Europe/Paris)"): a cron written for 04:00 Paris reads as 04:00."""

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.core.validators import MinValueValidator
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from jobs import schedules
from jobs.admin_display import job_link
from jobs.models import Schedule
from project.models import zone_or_utc

INTERVAL_TOO_SHORT = "The interval must be at least 1 second."


def in_schedule_zone(schedule, moment, with_key=True):
    """``moment`` in the schedule's time zone, labelled: "2026-12-08 04:00 CET (Europe/Paris)", or without the
    zone's name (``with_key=False``: the list, whose time zone column names it) "2026-12-08 04:00 CET"; the UTC
    time and the zone's name on hover. "-" for none."""
    if moment is None:
        return "-"
    zone = zone_or_utc(schedule.timezone)  # a row written around the form's checks: UTC
    local, utc = moment.astimezone(zone), moment.astimezone(zoneinfo.ZoneInfo("UTC"))
    abbreviation = local.strftime("%Z")
    label = f"{abbreviation} ({zone.key})" if with_key and abbreviation != zone.key else abbreviation
    return format_html('<span title="{} UTC; {}">{} {}</span>', f"{utc:%Y-%m-%d %H:%M:%S}", zone.key,
                       f"{local:%Y-%m-%d %H:%M}", label)


class PayloadField(forms.JSONField):
    """Django's JSON form field, but JSON that Python's parser gives up on (nested thousands deep: a
    ``RecursionError``; a number of more than 4,300 digits: a ``ValueError``) is a form error, not a 500."""

    unreadable = "Enter a valid JSON: this nests too deeply or holds a number too long to read."

    def to_python(self, value):
        try:
            return super().to_python(value)
        except (RecursionError, ValueError):  # a JSONDecodeError is already a ValidationError here
            raise forms.ValidationError(self.unreadable, code="invalid")

    def bound_data(self, data, initial):  # the form shown again with what was typed
        try:
            return super().bound_data(data, initial)
        except (RecursionError, ValueError):
            return forms.fields.InvalidJSONInput(data)


class ScheduleForm(forms.ModelForm):
    """A schedule runs its job type as no one in particular, so staff may schedule only the types they may
    enqueue by hand (``registry.enqueueable_by``): others are not offered, and one posted anyway is a
    form error on ``job_type``. A schedule that already runs a type the staff member may not enqueue (the
    built-in rollup and retention: internal types) keeps that type and its payload, shown but fixed (a
    retention's ``days`` is what it deletes); its timing and ``enabled`` stay editable."""

    user = None  # the staff member, set per request by ScheduleAdmin.get_form

    class Meta:
        model = Schedule
        fields = ["name", "job_type", "payload", "cron", "interval_seconds", "timezone", "enabled"]
        field_classes = {"payload": PayloadField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from jobs import registry

        interval = self.fields.get("interval_seconds")
        if interval is not None:  # 0 reads as "no interval" to the scheduler: say what is wrong with it instead
            interval.validators = [v for v in interval.validators if not isinstance(v, MinValueValidator)]
            interval.validators.append(MinValueValidator(1, INTERVAL_TOO_SHORT))
            interval.widget.attrs["min"] = 1

        offered = registry.enqueueable_by(self.user)
        current = self.instance.job_type if self.instance.pk else None
        if current and current not in offered:
            self.fields["job_type"] = forms.ChoiceField(
                choices=[(current, current)], disabled=True,
                help_text="Fixed: you may not enqueue this job type by hand (it is internal or needs a permission "
                          "you lack), so it cannot be changed here.")
            if "payload" in self.fields:  # not on a view-only page, where every field is shown as text
                self.fields["payload"].disabled = True
                self.fields["payload"].help_text = ("Fixed with the job type: what a job you may not enqueue does is "
                                                    "set by its code and settings, not here.")
        else:
            self.fields["job_type"] = forms.ChoiceField(
                choices=[(name, name) for name in offered],
                error_messages={"invalid_choice": "%(value)s is not a job type you may schedule: internal types, "
                                                  "and types whose permission you lack, are not offered."})

    def clean(self):
        cleaned = super().clean()
        candidate = Schedule(**{f: cleaned.get(f) for f in self.Meta.fields if f in cleaned})
        if "interval_seconds" in self.errors:
            # An interval was given, a wrong one, and its field says so: check the rest as if it were right,
            # rather than also complain that neither a cron expression nor an interval was given.
            candidate.interval_seconds = 1
        try:
            schedules.schedule_validate(candidate)
        except forms.ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        else:
            cleaned["payload"] = candidate.payload
        return cleaned


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["name", "job_type", "cron", "interval_seconds", "timezone", "enabled", "next_run_listed",
                    "last_run_listed", "last_job_link", "last_error_short"]
    list_filter = ["enabled"]
    search_fields = ["name", "=job_type"]
    # last_error: set by the scheduler when a run enqueued nothing (jobs.schedules), never typed in.
    readonly_fields = ["next_run", "last_run", "last_job_link", "last_error"]

    actions = ["run_now"]

    @admin.action(description="Run selected schedules now", permissions=["change"])
    def run_now(self, request, queryset):
        """Enqueue each schedule's job at once (its next run stays); a type the staff member may not
        enqueue by hand is skipped and named."""
        from jobs.errors import JobError

        ran, refused = [], []
        for schedule in queryset:
            try:
                ran.append((schedule, schedules.schedule_run_now(schedule, actor=request.user)))
            except JobError as exc:
                refused.append(f"{schedule.name}: {exc.message}")
        for schedule, record in ran:
            link = reverse("admin:jobs_jobrecord_change", args=[record.pk])
            self.message_user(request, format_html('Schedule «{}» enqueued job <a href="{}" title="{}">{}</a>.',
                                                   schedule.name, link, record.pk, str(record.pk)[:8]),
                              messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not run — {line}", messages.WARNING)

    def changelist_view(self, request, extra_context=None):
        # The app list beside the schedules would push their run times and last error out of a 1366-px screen.
        return super().changelist_view(request, {**(extra_context or {}), "is_nav_sidebar_enabled": False})

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    @admin.display(description="next run at", ordering="next_run_at")
    def next_run(self, obj):
        return in_schedule_zone(obj, obj.next_run_at)

    @admin.display(description="last run at", ordering="last_run_at")
    def last_run(self, obj):
        return in_schedule_zone(obj, obj.last_run_at)

    @admin.display(description="next run at", ordering="next_run_at")
    def next_run_listed(self, obj):
        return in_schedule_zone(obj, obj.next_run_at, with_key=False)

    @admin.display(description="last run at", ordering="last_run_at")
    def last_run_listed(self, obj):
        return in_schedule_zone(obj, obj.last_run_at, with_key=False)

    @admin.display(description="last job")
    def last_job_link(self, obj):
        return job_link(obj.last_job_id)

    @admin.display(description="last error")
    def last_error_short(self, obj):
        return Truncator(obj.last_error).chars(120)

    def save_model(self, request, obj, form, change):
        schedules.schedule_save(obj)
