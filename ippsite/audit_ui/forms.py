"""The filter form of one log's page (GET): action, actor, a time range."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Layout, Row
from django import forms

from audit.actions import action_choices
from ippsite.audit_ui.selectors import AuditFilters, BadBound, parse_bound


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.CharField(
        required=False, max_length=150, widget=forms.TextInput(attrs={"placeholder": "username"})
    )
    since = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "date"}), help_text="From this day"
    )
    until = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"type": "date"}), help_text="Through this day"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action"), *action_choices()]
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.disable_csrf = True
        self.helper.form_id = "audit-filters"
        self.helper.layout = Layout(
            Row(
                Column("action", css_class="col-md-4"),
                Column("actor", css_class="col-md-2"),
                Column("since", css_class="col-md-3"),
                Column("until", css_class="col-md-3"),
            ),
            # A plain button: a named submit input would add itself to the query string.
            HTML(
                '<div class="mb-3"><button type="submit" class="btn btn-primary">Filter</button> '
                '<a class="btn btn-link" href="?">Clear</a></div>'
            ),
        )

    def _bound(self, name: str, *, end: bool):
        value = self.cleaned_data.get(name)
        if not value:
            return None
        try:
            return parse_bound(value, end=end)
        except BadBound as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_since(self):
        return self._bound("since", end=False)

    def clean_until(self):
        return self._bound("until", end=True)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError("'Since' must not be after 'until'.")
        return data

    def filters(self, log: str) -> AuditFilters:
        data = self.cleaned_data if self.is_bound else {}
        return AuditFilters(
            log=log,
            action=data.get("action") or "",
            actor=(data.get("actor") or "").strip(),
            since=data.get("since"),
            until=data.get("until"),
        )
