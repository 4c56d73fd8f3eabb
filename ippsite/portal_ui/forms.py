"""Forms of the IPP portal pages. Module choices come through the permission door only."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Field, Fieldset, Layout, Submit
from django import forms
from django.conf import settings
from django.db.models import Exists, OuterRef

from core.levels import Level
from permissions import door
from registry.models import Infrastructure, ModuleVersion

# The request form offers this many modules at a time; a search finds the others.
MODULES_OFFERED = 50


class ModuleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.infrastructure.name} / {obj.name}"


class TransferRequestForm(forms.Form):
    """Ask to transfer modules (or one uploaded marked package) to another infrastructure."""

    modules = ModuleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Modules you may publish, all from one infrastructure; each one's latest version "
        "is transferred.",
    )
    package = forms.FileField(
        required=False,
        label="…or a marked package (.zip)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    target_activation_code = forms.CharField(
        label="Destination activation code",
        max_length=64,
        widget=forms.TextInput(
            attrs={"placeholder": "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX", "autocomplete": "off"}
        ),
        help_text="The activation code of the infrastructure that will publish the modules.",
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the transfer is needed (the source's administrators read it).",
    )

    def __init__(self, *args, user, q: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        publishable = (
            door.modules_for_user(user, Level.PUBLISH)
            .filter(infrastructure__platform=Infrastructure.Platform.O11)
            .filter(Exists(ModuleVersion.objects.filter(module=OuterRef("pk"))))
            .select_related("infrastructure")
            .order_by("infrastructure__name", "name", "id")
        )
        self.fields["modules"].queryset = publishable
        self._offer(publishable, q)
        self.fields["package"].help_text = (
            "A sealed export whose mark names an infrastructure you are a member of. "
            f"At most {settings.IPP_MAX_PACKAGE_MB} MB."
        )
        self.helper = FormHelper()
        self.helper.attrs = {"enctype": "multipart/form-data", "data-testid": "transfer-form"}
        self.helper.layout = Layout(
            Fieldset(
                "What to transfer",
                Field("modules"),
                HTML('<p class="text-body-secondary small mb-2">— or —</p>'),
                Field("package"),
            ),
            Fieldset(
                "Where to",
                Field("target_activation_code", css_class="font-monospace"),
                Field("note"),
            ),
            Submit("submit", "Request transfer", css_class="btn-primary"),
        )

    def _offer(self, publishable, q: str) -> None:
        """Tick boxes for the first MODULES_OFFERED modules matching `q`, and for those
        already ticked; any module the user may publish is still accepted when posted."""
        matching = publishable.filter(name__icontains=q) if q else publishable
        offered = list(matching[: MODULES_OFFERED + 1])
        self.more_offered = len(offered) > MODULES_OFFERED
        offered = offered[:MODULES_OFFERED]
        ticked = set()
        if self.is_bound and hasattr(self.data, "getlist"):
            ticked = {v for v in self.data.getlist("modules") if v.isdigit()} - {
                str(m.pk) for m in offered
            }
        if ticked:
            offered += list(publishable.filter(pk__in=ticked)[:MODULES_OFFERED])
        self.offered = offered
        label = self.fields["modules"].label_from_instance
        self.fields["modules"].widget.choices = [(m.pk, label(m)) for m in offered]

    def clean_target_activation_code(self) -> str:
        return self.cleaned_data["target_activation_code"].strip().upper()

    def clean(self):
        cleaned = super().clean()
        modules = cleaned.get("modules")
        package = cleaned.get("package")
        if modules and package:
            raise forms.ValidationError("Choose modules or upload a package, not both.")
        if not modules and not package and not self.errors.get("modules"):
            raise forms.ValidationError("Choose at least one module, or upload a marked package.")
        if modules and len({m.infrastructure_id for m in modules}) > 1:
            self.add_error(
                "modules",
                "Choose modules of one infrastructure: make one request per infrastructure.",
            )
        return cleaned


class RejectForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500)


class PublishForm(forms.Form):
    """Publish one module of an approved request into a destination environment the user
    may publish to (choices from portal.selectors.publish_destinations)."""

    module = forms.TypedChoiceField(
        coerce=int, label="Module", widget=forms.Select(attrs={"class": "form-select"})
    )
    environment = forms.TypedChoiceField(
        coerce=int,
        label="Into environment",
        widget=forms.Select(attrs={"class": "form-select", "data-testid": "publish-environment"}),
    )

    def __init__(self, *args, items, environments, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].choices = [
            (item.module_id, f"{item.module.name} v{item.version.number}") for item in items
        ]
        self.fields["environment"].choices = [
            (env.pk, f"{env.name} — protected" if env.protected else env.name)
            for env in environments
        ]
