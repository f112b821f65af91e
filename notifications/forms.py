from django import forms
from django.conf import settings

from notifications.models import EVENT_CHOICES, WebhookEndpoint
from notifications.services import url_check
from jobs.errors import JobError


def url_help_text() -> str:
    """What the URL field accepts, as ``url_check`` enforces it: http:// and https://, no internal address
    unless this deployment's ``OUTBOUND_ALLOWED_NETWORKS`` lets one through (then it says which)."""
    text = ("The http:// or https:// address of your server (https:// recommended: the events are then "
            "encrypted on the way). Internal addresses (private, loopback, link-local) are refused")
    allowed = list(getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", None) or [])
    if allowed:
        return f"{text}, except those this deployment allows (OUTBOUND_ALLOWED_NETWORKS): {', '.join(allowed)}."
    return f"{text}."


def _checked_url(value):
    try:
        return url_check(value)
    except JobError as exc:
        raise forms.ValidationError(exc.message, code=exc.code) from None


class WebhookEndpointForm(forms.Form):
    """The control panel's "add an endpoint" form; the URL is checked against internal addresses, and its
    help says what is accepted (read when the form is made: the setting may differ between deployments)."""

    url = forms.URLField(max_length=500, label="URL", assume_scheme="https")
    events = forms.MultipleChoiceField(choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["url"].help_text = url_help_text()

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
