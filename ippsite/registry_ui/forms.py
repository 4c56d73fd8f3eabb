"""Forms of the registry pages. Choice fields offer only what the user may pick."""

from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings

from permissions import door


class EnvironmentForm(forms.Form):
    """Add an environment to an infrastructure (support or its administrators)."""

    name = forms.CharField(
        max_length=80,
        help_text="For example Development, Test or Production.",
        widget=forms.TextInput(attrs={"placeholder": "e.g. Staging"}),
    )
    protected = forms.BooleanField(
        required=False,
        label="Protected",
        help_text="Only administrators and the deployers they name may publish or deploy "
        "here (as in Production).",
    )

    def __init__(self, *args, infrastructure=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.infrastructure = infrastructure
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the environment a name.")
        if (
            self.infrastructure is not None
            and self.infrastructure.environments.filter(name__iexact=name).exists()
        ):
            raise forms.ValidationError(
                f"{self.infrastructure.name} already has an environment called {name}."
            )
        return name


class PublishForm(forms.Form):
    """Upload a module package (ZIP) and publish it into an environment."""

    package = forms.FileField(
        label="Module package (.zip)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].help_text = (
            f"A ZIP with manifest.json and src/, or a sealed export. "
            f"At most {settings.IPP_MAX_PACKAGE_MB} MB."
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True


class ProtectionForm(forms.Form):
    """Turn an environment's protection on or off (after the page's confirmation)."""

    protected = forms.TypedChoiceField(
        choices=[("1", "on"), ("0", "off")], coerce=lambda value: value == "1"
    )


class DeployForm(forms.Form):
    """Deploy one of the module's versions to an environment the user can see and whose
    protection lets them in (protected ones are labelled)."""

    version = forms.TypedChoiceField(coerce=int, label="Version")
    environment = forms.TypedChoiceField(coerce=int, label="To environment")

    def __init__(self, *args, user, module, versions, **kwargs):
        super().__init__(*args, **kwargs)
        self.module = module
        self.fields["version"].choices = [
            (v.pk, f"v{v.number}" + (" (marked)" if v.marked else "")) for v in versions
        ]
        environments = list(
            door.deployable_environments(user).order_by("infrastructure__name", "id")
        )
        self.environments = {env.pk: env for env in environments}
        self.fields["environment"].choices = [
            (
                env.pk,
                f"{env.infrastructure.name} / {env.name}"
                + (" — protected" if env.protected else ""),
            )
            for env in environments
        ]
        self._versions = {v.pk: v for v in versions}
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_version(self):
        return self._versions[self.cleaned_data["version"]]

    def clean_environment(self):
        return self.environments[self.cleaned_data["environment"]]
