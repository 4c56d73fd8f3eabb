from django.core.management.base import BaseCommand, CommandError

from audit.verify import verify_all


class Command(BaseCommand):
    help = (
        "Verify the whole audit chain: every entry's hash and link to the previous one, "
        "sequence numbers contiguous from 1, every checkpoint's Ed25519 signature and hash "
        "(those in the database and those mirrored in IPP_DATA_DIR/audit/checkpoints.jsonl), "
        "no truncation past the last checkpoint, and the head row. Prints 'ok: N entries' "
        "and exits 0, or exits non-zero naming the first bad sequence number."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Fail (instead of warning) when the checkpoint mirror file is missing, has "
            "unreadable lines, or lacks checkpoints that are in the database.",
        )

    def handle(self, *args, **options):
        result = verify_all(strict=options["strict"])
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if not result.ok:
            raise CommandError(result.problem)
        self.stdout.write(f"ok: {result.last_seq} entries")
