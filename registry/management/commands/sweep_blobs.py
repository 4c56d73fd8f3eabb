"""sweep_blobs: remove stored source no version points to, and leftovers of dead writes."""

from django.core.management.base import BaseCommand, CommandError

from registry.sweep import DEFAULT_GRACE, parse_grace, sweep_blobs


class Command(BaseCommand):
    help = (
        "Remove, from the blob store of IPP_BLOB_STORE, every version source object that no "
        "module version row points to (left by a publish that crashed between writing its "
        "source and committing its row) and every leftover of a write that never finished "
        "(.tmp-* files of a killed process), once older than the grace period. Safe while "
        "publishes run: a publish commits its row seconds after writing its object, so an "
        "object younger than the grace period is never removed; keep --grace well above "
        "the longest publish. Objects of other names are left alone. Run it at start-up "
        "and from time to time (any node)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            default="1h",
            help="leave anything younger than this: 3600, 90s, 30m, 1h, 2d (default 1h)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be removed, remove nothing"
        )

    def handle(self, *args, grace: str = "1h", dry_run: bool = False, **options):
        try:
            period = parse_grace(grace) if grace else DEFAULT_GRACE
        except (ValueError, KeyError, OverflowError):
            raise CommandError(f"--grace {grace!r} is not a duration like 90s, 30m or 1h") from None
        report = sweep_blobs(grace=period, dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        for name in report.removed + report.leftovers:
            self.stdout.write(f"{verb} {name}")
        self.stdout.write(
            f"{verb} {len(report.removed)} objects no version points to and "
            f"{len(report.leftovers)} leftovers; kept {report.referenced} in use and "
            f"{report.young} younger than {period}"
            + (f"; left {report.foreign} of other names" if report.foreign else "")
        )
