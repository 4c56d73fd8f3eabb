"""migrate_blobs: store every version's source as one pack, in the chosen blob store."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from registry.blobs import KINDS, store_for
from registry.crypto import CryptoError
from registry.repack import repack_all


class Command(BaseCommand):
    help = (
        "Convert stored source to the current format and move it between blob stores. "
        "Versions stored by earlier releases as a directory of per-file blobs are packed "
        "into one encrypted object each (same data key, so nothing in the database "
        "changes) and the directory is removed once the pack is durable; with --from and "
        "--to naming different stores (filesystem, database), packs are copied into the "
        "target, and the source copies are removed only with --remove-source. Idempotent: "
        "run it again after an interruption; publishes may run meanwhile. Set "
        "IPP_BLOB_STORE to the target once it has run. Exits non-zero if any version's "
        "source was found nowhere."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", choices=KINDS, help="default: IPP_BLOB_STORE")
        parser.add_argument("--to", dest="target", choices=KINDS, help="default: IPP_BLOB_STORE")
        parser.add_argument(
            "--remove-source",
            action="store_true",
            help="remove each version's copy in the --from store once the target holds it",
        )

    def handle(self, *args, source=None, target=None, remove_source=False, **options):
        source = store_for(source or settings.IPP_BLOB_STORE)
        target = store_for(target or settings.IPP_BLOB_STORE)
        try:
            report = repack_all(source=source, target=target, remove_source=remove_source)
        except CryptoError as exc:
            raise CommandError(f"stopped (what was done so far stays done): {exc}") from exc
        self.stdout.write(
            f"{source.kind} -> {target.kind}: packed {report.packed}, copied {report.copied}, "
            f"already there {report.present}, removed {report.removed} superseded copies"
        )
        if report.missing:
            listed = ", ".join(str(pk) for pk in report.missing[:20])
            where = " or ".join(dict.fromkeys([source.kind, target.kind]))
            raise CommandError(
                f"{len(report.missing)} versions have no source in {where} "
                f"(ids {listed}{', ...' if len(report.missing) > 20 else ''})"
            )
