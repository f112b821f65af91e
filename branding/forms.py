"""The control panel's branding form: the same rules as the API (branding.services.CLEANERS)."""

from django import forms

from branding import services


class BrandingForm(forms.Form):
    display_name = forms.CharField(required=False, max_length=services.MAX_DISPLAY_NAME, strip=True,
                                   help_text=f"Embed author name; at most {services.MAX_DISPLAY_NAME} characters.")
    color = forms.CharField(required=False, max_length=7, strip=True, help_text="Hex colour, like #5865f2.",
                            widget=forms.TextInput(attrs={"placeholder": "#5865f2"}))
    footer_text = forms.CharField(required=False, max_length=services.MAX_FOOTER_TEXT, strip=True,
                                  widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text=f"At most {services.MAX_FOOTER_TEXT} characters.")
    icon_url = forms.CharField(required=False, max_length=services.MAX_ICON_URL, strip=True,
                               help_text="An https:// image URL.")

    def clean(self):
        cleaned = super().clean()
        for name, cleaner in services.CLEANERS.items():
            if name in cleaned:
                try:
                    cleaned[name] = cleaner(cleaned[name])
                except ValueError as exc:
                    self.add_error(name, str(exc))
        return cleaned
