"""Data: versions published before 0002 take their module's name (reversible: no-op back)."""
from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill_names(apps, schema_editor):
    ModuleVersion = apps.get_model("modules", "ModuleVersion")
    Module = apps.get_model("modules", "Module")
    ModuleVersion.objects.filter(name="").update(
        name=Subquery(Module.objects.filter(pk=OuterRef("module_id")).values("name")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [("modules", "0002_version_name_and_digest_index")]

    operations = [migrations.RunPython(fill_names, migrations.RunPython.noop)]
