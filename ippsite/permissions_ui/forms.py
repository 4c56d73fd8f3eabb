"""Forms of the permission pages. Choice fields offer only what the user may pick."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model

from core.levels import Level
from registry.models import Membership, Module

User = get_user_model()
LEVEL_CHOICES = [(level.label, level.label) for level in Level]
FILTER_LEVEL_CHOICES = [("", "any level")] + LEVEL_CHOICES


def _bootstrap(form: forms.Form) -> None:
    """Filter bars render their widgets by hand (one row): give them Bootstrap classes."""
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs.setdefault("class", css)


def _helper(submit: str | None = None, *, inline: bool = False) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    if inline:
        helper.form_show_labels = True
    if submit:
        helper.add_input(Submit("submit", submit))
    return helper


class CatalogFilterForm(forms.Form):
    q = forms.CharField(
        required=False, label="Search", widget=forms.TextInput(attrs={"placeholder": "Module name"})
    )
    infrastructure = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    level = forms.ChoiceField(required=False, choices=FILTER_LEVEL_CHOICES[:1] + LEVEL_CHOICES[1:])

    def __init__(self, *args, infrastructures=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["infrastructure"].choices = [("", "all infrastructures")] + [
            (i.pk, i.name) for i in infrastructures
        ]
        _bootstrap(self)


class ModuleFilterForm(forms.Form):
    q = forms.CharField(
        required=False, label="Name", widget=forms.TextInput(attrs={"placeholder": "Module name"})
    )
    level = forms.ChoiceField(required=False, choices=FILTER_LEVEL_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _bootstrap(self)


class BulkLevelForm(forms.Form):
    """The Modules tab's bulk change: ticked module ids and one level for all of them."""

    modules = forms.TypedMultipleChoiceField(
        coerce=int, choices=(), error_messages={"required": "Tick the modules to change first."}
    )
    level = forms.ChoiceField(choices=LEVEL_CHOICES, label="Set the grant to")

    def __init__(self, *args, module_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].choices = [(pk, pk) for pk in module_ids]


class GrantForm(forms.Form):
    """Grant, change or remove one member's level on a module."""

    user = forms.ModelChoiceField(
        queryset=User.objects.none(), label="Member", to_field_name="username"
    )
    level = forms.ChoiceField(choices=LEVEL_CHOICES, label="Grant")

    def __init__(self, *args, module: Module, actor, **kwargs):
        super().__init__(*args, **kwargs)
        # Members of the module's infrastructure, but not the actor: nobody grants themselves.
        self.fields["user"].queryset = (
            User.objects.filter(memberships__infrastructure_id=module.infrastructure_id)
            .exclude(pk=actor.pk)
            .order_by("username")
        )
        self.helper = _helper("Save grant")


class MemberForm(forms.Form):
    """Add a member by username, or change a member's role, default level and creation right."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices)
    default_level = forms.TypedChoiceField(
        choices=[(int(level), level.label) for level in Level], coerce=int, initial=int(Level.NONE)
    )
    create_modules = forms.BooleanField(required=False, label="May create modules")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Save member")

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        try:
            self.user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise forms.ValidationError(
                f"There is no user called {username}: ask support to create the account first."
            ) from None
        return username


class TeamForm(forms.Form):
    name = forms.CharField(max_length=120)
    level = forms.ChoiceField(choices=LEVEL_CHOICES, initial="reference")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Create team")


class TeamEditForm(forms.Form):
    name = forms.CharField(max_length=120)
    level = forms.ChoiceField(choices=LEVEL_CHOICES)
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    modules = forms.ModelMultipleChoiceField(
        queryset=Module.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, infrastructure, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = User.objects.filter(
            memberships__infrastructure=infrastructure
        ).order_by("username")
        self.fields["modules"].queryset = Module.objects.filter(
            infrastructure=infrastructure
        ).order_by("name")
        self.helper = _helper("Save team")
