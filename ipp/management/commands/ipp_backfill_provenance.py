"""Fill rule 9's provenance for versions stored before it existed."""

from django.core.management.base import BaseCommand
from django.db import transaction

from ipp.models import VersionFingerprint
from ipp.provenance import provenance_record
from ipp.services import source_fingerprints
from registry.models import ModuleVersion
from registry.selectors import version_source


class Command(BaseCommand):
    help = (
        "Record where each module key and each source file was first published (SPEC rule "
        "9) for versions stored before provenance existed. Versions are read in the order "
        "they were published, so the first publication wins; versions that already have "
        "fingerprints are skipped, so the command can be run again. Needs the master keys."
    )

    def handle(self, *args, **options):
        done = set(VersionFingerprint.objects.values_list("version_id", flat=True).distinct())
        count = 0
        for version in ModuleVersion.objects.select_related("module").order_by("pk").iterator():
            if version.pk in done:
                continue
            fingerprints = source_fingerprints(version_source(version))
            with transaction.atomic():
                provenance_record(version=version, fingerprints=fingerprints)
            count += 1
        self.stdout.write(f"ok: provenance recorded for {count} versions")
