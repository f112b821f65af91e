from django import forms

from exports.models import Export
from exports.services import METRICS


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=Export.Format.choices)
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive, at most 366 days.")
    metrics = forms.MultipleChoiceField(choices=[(m, m.replace("_", " ")) for m in METRICS],
                                        widget=forms.CheckboxSelectMultiple)
