"""Schedules in the admin: cron or interval, the payload validated against the job type, and only the
job types the staff member may enqueue by hand."""

from django import forms
from django.contrib import admin, messages

from jobs import schedules
from jobs.admin_display import job_link
from jobs.models import Schedule


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
    list_display = ["name", "job_type", "cron", "interval_seconds", "timezone", "enabled", "next_run_at",
                    "last_run_at", "last_job_link"]
    list_filter = ["enabled"]
    search_fields = ["name", "=job_type"]
    readonly_fields = ["next_run_at", "last_run_at", "last_job_link"]

    actions = ["run_now"]

    @admin.action(description="Run selected schedules now", permissions=["change"])
    def run_now(self, request, queryset):
        """Enqueue each schedule's job at once (its next run stays); a type the staff member may not
        enqueue by hand is skipped and named."""
        from jobs.errors import JobError

        ran, refused = [], []
        for schedule in queryset:
            try:
                ran.append(schedules.schedule_run_now(schedule, actor=request.user))
            except JobError as exc:
                refused.append(f"{schedule.name}: {exc.message}")
        if ran:
            self.message_user(request, f"{len(ran)} schedule(s) run now: " + ", ".join(str(r.pk) for r in ran),
                              messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not run — {line}", messages.WARNING)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"user": request.user})

    @admin.display(description="last job")
    def last_job_link(self, obj):
        return job_link(obj.last_job_id)

    def save_model(self, request, obj, form, change):
        schedules.schedule_save(obj)
