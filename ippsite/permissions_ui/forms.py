"""Forms of the permission pages. Choice fields offer only what the user may pick."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.utils.html import format_html

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


class PickerInput(forms.TextInput):
    """A text input that suggests values as you type (static/js/picker.js): the script
    asks `url?q=...` for a page of matches and fills the input's <datalist>; a polite
    live region says how many there are. Without the script it is a plain text input.
    """

    def __init__(self, url: str = "", attrs=None):
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})
        self.url = url

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget_id = context["widget"]["attrs"].get("id") or f"id_{name}"
        context["widget"]["attrs"].update(
            {
                "list": f"{widget_id}-options",
                "data-picker-url": self.url,
                "aria-describedby": f"{widget_id}-status",
            }
        )
        return context

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        widget_id = (attrs or {}).get("id") or f"id_{name}"
        return html + format_html(
            '<datalist id="{0}-options"></datalist>'
            '<span class="form-text d-block" id="{0}-status" aria-live="polite">'
            "Type part of a name to see matches.</span>",
            widget_id,
        )


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
    """The Modules tab's bulk change: one level for the ticked modules of the page, or for
    every module matching the filter (`all_matching`, the "select all N" of the page).
    """

    modules = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=False)
    all_matching = forms.BooleanField(required=False)
    level = forms.ChoiceField(choices=LEVEL_CHOICES, label="Set the grant to")

    def __init__(self, *args, module_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].choices = [(pk, pk) for pk in module_ids]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_matching") and not cleaned.get("modules"):
            self.add_error("modules", "Tick the modules to change first.")
        return cleaned


class RowLevelForm(forms.Form):
    """One row's grant on the Modules tab: the row's Save button names the module
    (`row`), and that row's select (`level_<id>`) the level.
    """

    row = forms.TypedChoiceField(coerce=int, choices=())

    def __init__(self, *args, module_ids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["row"].choices = [(pk, pk) for pk in module_ids]

    def clean(self):
        cleaned = super().clean()
        row = cleaned.get("row")
        if row is not None:
            try:
                cleaned["level"] = Level.parse(self.data.get(f"level_{row}", ""))
            except ValueError:
                raise forms.ValidationError("Choose a level for that module.") from None
        return cleaned


class GrantForm(forms.Form):
    """Grant, change or remove one member's level on a module: the member is picked by
    typing (a search of the infrastructure's members), never from a list of everyone.
    """

    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Member",
        to_field_name="username",
        widget=PickerInput(),
        error_messages={"invalid_choice": "Pick a member of the infrastructure other than you."},
    )
    level = forms.ChoiceField(choices=LEVEL_CHOICES, label="Grant")

    def __init__(self, *args, module: Module, actor, picker_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        # Members of the module's infrastructure, but not the actor: nobody grants themselves.
        self.fields["user"].queryset = User.objects.filter(
            memberships__infrastructure_id=module.infrastructure_id
        ).exclude(pk=actor.pk)
        self.fields["user"].widget.url = picker_url
        self.helper = _helper("Save grant")


ROLE_CHOICES = [
    (Membership.Role.MEMBER, "Member"),
    (Membership.Role.ADMINISTRATOR, "Administrator"),
]
DEFAULT_LEVEL_CHOICES = [(int(level), level.label) for level in Level]


class MemberEditForm(forms.Form):
    """Change a member's role, default level and creation right. The member is fixed by the
    page's address: there is no username to type, so editing can never add someone else."""

    role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Membership.Role.MEMBER)
    default_level = forms.TypedChoiceField(
        choices=DEFAULT_LEVEL_CHOICES, coerce=int, initial=int(Level.NONE)
    )
    create_modules = forms.BooleanField(required=False, label="May create modules")

    def __init__(self, *args, submit: str = "Save member", **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(submit)


class MemberForm(MemberEditForm):
    """Add a member by username (an existing account); Role defaults to Member."""

    username = forms.CharField(max_length=150)
    field_order = ["username", "role", "default_level", "create_modules"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, submit="Add member", **kwargs)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        try:
            self.user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise forms.ValidationError(
                f"There is no user called {username}: invite them by e-mail instead."
            ) from None
        return username


class InvitationForm(MemberEditForm):
    """Invite someone by e-mail with the role, default level and creation right they get."""

    email = forms.EmailField(label="E-mail address")
    field_order = ["email", "role", "default_level", "create_modules"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, submit="Send invitation", **kwargs)


class AcceptInvitationForm(forms.Form):
    """A new account for an invitee: a username and a password (Django's validators)."""

    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs["autocomplete"] = "username"
        self.fields["password1"].widget.attrs["autocomplete"] = "new-password"
        self.fields["password2"].widget.attrs["autocomplete"] = "new-password"
        self.helper = _helper("Create my account and join")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class TeamForm(forms.Form):
    """A new team's (or a team's new) name and level."""

    name = forms.CharField(max_length=120)
    level = forms.ChoiceField(choices=LEVEL_CHOICES, initial="reference")

    def __init__(self, *args, submit: str = "Create team", **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper(submit)


class TeamMemberForm(forms.Form):
    """Add one member of the infrastructure to a team, picked by typing."""

    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Add a member",
        to_field_name="username",
        widget=PickerInput(),
        error_messages={"invalid_choice": "Pick a member of the infrastructure."},
    )

    def __init__(self, *args, infrastructure, picker_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(
            memberships__infrastructure=infrastructure
        )
        self.fields["user"].widget.url = picker_url
        self.helper = _helper("Add to team")


class TeamModulesForm(forms.Form):
    """Ticked modules of the infrastructure, to add to or remove from a team."""

    modules = forms.ModelMultipleChoiceField(
        queryset=Module.objects.none(),
        error_messages={"required": "Tick the modules first."},
    )

    def __init__(self, *args, infrastructure, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].queryset = Module.objects.filter(infrastructure=infrastructure)


class TeamMemberRemoveForm(forms.Form):
    user = forms.IntegerField()
