"""Forms of the ipp pages. Choice fields offer only what the user may pick."""

from crispy_forms.helper import FormHelper
from django import forms

from core.levels import Level
from permissions import door
from registry.models import ModuleVersion


def _helper() -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    return helper


class ToggleForm(forms.Form):
    """One of support's two switches, set to on or off."""

    flag = forms.ChoiceField(
        choices=[("ipp_protected", "IPP protection"), ("portal_blocked", "Portal blocking")]
    )
    value = forms.TypedChoiceField(choices=[("1", "on"), ("0", "off")], coerce=lambda v: v == "1")


class ModuleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, module) -> str:
        return f"{module.name} ({module.infrastructure.name})"


class EnvironmentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, environment) -> str:
        label = f"{environment.infrastructure.name} / {environment.name}"
        return f"{label} — protected" if environment.protected else label


class CopyForm(forms.Form):
    """Copy exposed elements of a version of `source` into a module the user may publish,
    publishing the new version in an environment of that module's infrastructure."""

    version = forms.TypedChoiceField(coerce=int, label="From version")
    elements = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Elements to copy"
    )
    target = ModuleChoiceField(queryset=None, label="Into module", empty_label="Choose a module")
    environment = EnvironmentChoiceField(
        queryset=None,
        label="Publish and deploy in",
        empty_label="Choose an environment",
        help_text="An environment of the target module's infrastructure. The new version is "
        "deployed there at once; protected environments are marked.",
    )

    def __init__(self, *args, user, source, version_number: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        versions = list(source.versions.order_by("-number").prefetch_related("exposes"))
        self.fields["version"].choices = [
            (v.number, f"v{v.number}{' (marked)' if v.marked else ''}") for v in versions
        ]
        chosen = next(
            (v for v in versions if v.number == version_number), versions[0] if versions else None
        )
        if chosen is not None:
            self.initial.setdefault("version", chosen.number)
        self.version = chosen
        self.fields["elements"].choices = [
            (e.name, f"{e.name} — {e.get_kind_display()}")
            for e in (chosen.exposes.all() if chosen else [])
        ]
        self.fields["target"].queryset = (
            door.modules_for_user(user, Level.PUBLISH)
            .exclude(pk=source.pk)
            .select_related("infrastructure")
            .order_by("name", "infrastructure__name")
        )
        self.fields["environment"].queryset = (
            door.deployable_environments(user)
            .filter(infrastructure__in=self.fields["target"].queryset.values("infrastructure"))
            .order_by("infrastructure__name", "id")
        )
        self.helper = _helper()

    def clean(self):
        data = super().clean()
        target, environment = data.get("target"), data.get("environment")
        if target and environment and environment.infrastructure_id != target.infrastructure_id:
            self.add_error(
                "environment",
                f"{environment} is not an environment of {target.infrastructure.name}, "
                f"where {target.name} lives: choose one of {target.infrastructure.name}'s.",
            )
        return data


class VersionChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, version) -> str:
        return f"{version.module.name} v{version.number} ({version.module.infrastructure.name})"


class PreflightForm(forms.Form):
    """Versions the user can see, and/or a package to check against an environment."""

    versions = VersionChoiceField(
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Hold Ctrl (or ⌘) to choose several.",
    )
    package = forms.FileField(
        required=False,
        label="Or a module package (.zip)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["versions"].queryset = (
            ModuleVersion.objects.filter(
                module__in=door.modules_for_user(user, Level.REFERENCE).values("pk")
            )
            .select_related("module__infrastructure")
            .order_by("module__name", "module__infrastructure__name", "-number")
        )
        self.helper = _helper()

    def clean(self):
        data = super().clean()
        if not data.get("versions") and not data.get("package"):
            raise forms.ValidationError("Choose at least one version or upload a package.")
        return data
