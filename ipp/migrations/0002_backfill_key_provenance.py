"""Key provenance for versions published before rule 9: the first version of each key.

Content provenance needs the decrypted source (keys outside the database), so it is
filled by `manage.py ipp_backfill_provenance` instead.
"""

from django.db import migrations


def forward(apps, schema_editor):
    ModuleVersion = apps.get_model("modules", "ModuleVersion")
    KeyProvenance = apps.get_model("ipp", "KeyProvenance")
    known = set(KeyProvenance.objects.values_list("key", flat=True))
    rows = []
    for version in ModuleVersion.objects.select_related("module").order_by("pk").iterator():
        key = version.module.key
        if key in known:
            continue
        known.add(key)
        rows.append(
            KeyProvenance(
                key=key,
                infrastructure_id=version.module.infrastructure_id,
                marked_code=version.marked_code,
                version_id=version.pk,
            )
        )
    KeyProvenance.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)


def backward(apps, schema_editor):
    apps.get_model("ipp", "KeyProvenance").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("ipp", "0001_provenance"), ("modules", "0003_fill_version_names")]
    operations = [migrations.RunPython(forward, backward)]
