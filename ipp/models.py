"""Provenance (SPEC rule 9): where a module key and a source file were first published.

The first publication decides. A key or a file whose first version was marked by an
infrastructure belongs to that infrastructure: it enters another one only through a
transfer. Content first published unmarked is free everywhere, whoever marks a copy later.
Rows are written once, in the transaction that stores the first version, and never
changed; the unique constraints decide races between concurrent first publications.
"""

from django.db import models


class KeyProvenance(models.Model):
    """The first published version of a module key, anywhere on the site."""

    key = models.UUIDField(unique=True)
    infrastructure = models.ForeignKey(
        "modules.Infrastructure", on_delete=models.PROTECT, related_name="+"
    )
    marked_code = models.CharField(
        max_length=29, blank=True, help_text="Activation code of the first version's mark."
    )
    version = models.ForeignKey(
        "modules.ModuleVersion", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "key provenance"
        verbose_name_plural = "key provenance"

    def __str__(self) -> str:
        return f"{self.key} first in {self.infrastructure_id}"


class ContentProvenance(models.Model):
    """The first published version holding a normalized source file (by keyed fingerprint)."""

    fingerprint = models.CharField(max_length=64, unique=True)
    infrastructure = models.ForeignKey(
        "modules.Infrastructure", on_delete=models.PROTECT, related_name="+"
    )
    marked_code = models.CharField(max_length=29, blank=True)
    module_key = models.UUIDField(help_text="The module the file first appeared in.")
    version = models.ForeignKey(
        "modules.ModuleVersion", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = "content provenance"
        verbose_name_plural = "content provenance"

    def __str__(self) -> str:
        return f"{self.fingerprint[:12]}… first in {self.infrastructure_id}"


class VersionFingerprint(models.Model):
    """The fingerprints of a stored version's files, so deploys are judged like packages."""

    version = models.ForeignKey(
        "modules.ModuleVersion", on_delete=models.CASCADE, related_name="fingerprints"
    )
    fingerprint = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "fingerprint"], name="ipp_version_fingerprint_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version_id}: {self.fingerprint[:12]}…"
