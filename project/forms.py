"""The control panel's guild settings form: the same rule as the API (project.services.clean_time_zone)."""

from django import forms

from project import services


class GuildSettingsForm(forms.Form):
    time_zone = forms.CharField(
        max_length=64, strip=True, label="Time zone",
        help_text="An IANA name, such as Europe/Paris or UTC (type to pick from the list). XLSX exports give "
                  "their times in it, and the control panel shows job times in it.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"}))

    def clean_time_zone(self):
        try:
            return services.clean_time_zone(self.cleaned_data["time_zone"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid_time_zone") from None
