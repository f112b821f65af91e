"""The control panel's export form. Every error shows at once: the range check runs whenever both dates
parse, whatever else is wrong (a guild admin should not fix the metrics to learn the range is wrong)."""

from django import forms

from exports.models import Export
from exports.services import METRICS, export_range_problems


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=Export.Format.choices)
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Inclusive, at most 366 days.")
    metrics = forms.MultipleChoiceField(choices=[(m, m.replace("_", " ")) for m in METRICS],
                                        widget=forms.CheckboxSelectMultiple)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            for problem in export_range_problems(start, end):
                self.add_error(problem.field, problem.message)
        return cleaned
