from django import forms

from notifications.models import EVENT_CHOICES, WebhookEndpoint
from notifications.services import url_check
from jobs.errors import JobError


def _checked_url(value):
    try:
        return url_check(value)
    except JobError as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from None


class WebhookEndpointForm(forms.Form):
    """The control panel's "add an endpoint" form; the URL is checked against internal addresses."""

    url = forms.URLField(max_length=500, label="URL", assume_scheme="https",
                         help_text="https:// address of your server; internal addresses are refused.")
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    def clean_url(self):
        return _checked_url(self.cleaned_data["url"])


class WebhookEndpointAdminForm(forms.ModelForm):
    """The admin's form: the same URL check, events from the fixed list, the secret never shown."""

    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["guild", "url", "events", "enabled", "disabled_reason"]

    def clean_url(self):
        return _checked_url(self.cleaned_data["url"])
