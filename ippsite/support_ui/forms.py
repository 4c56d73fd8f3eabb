"""Forms of support's console: create users, infrastructures and environments."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from registry.models import Infrastructure

User = get_user_model()


def _helper(submit: str) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    helper.add_input(Submit("submit", submit))
    return helper


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False, label="E-mail address")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].widget.attrs["autocomplete"] = "new-password"
        self.fields["password2"].widget.attrs["autocomplete"] = "new-password"
        self.helper = _helper("Create user")

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        try:
            User.username_validator(username)
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError(f"{username} is taken.")
        return username

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password1")
        if password and password != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif password and cleaned.get("username"):
            candidate = User(username=cleaned["username"], email=cleaned.get("email", ""))
            try:
                validate_password(password, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class InfrastructureCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    platform = forms.ChoiceField(choices=Infrastructure.Platform.choices, initial="o11")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Create infrastructure")

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if Infrastructure.objects.filter(name=name).exists():
            raise forms.ValidationError(f"An infrastructure called {name} exists.")
        return name


class EnvironmentCreateForm(forms.Form):
    infrastructure = forms.ModelChoiceField(queryset=Infrastructure.objects.order_by("name"))
    name = forms.CharField(max_length=80, help_text="Development, Test, Production…")
    protected = forms.BooleanField(
        required=False,
        label="Protected",
        help_text="Publishing or deploying here needs an administrator or a named deployer.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Create environment")
