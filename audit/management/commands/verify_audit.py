from django.core.management.base import BaseCommand, CommandError

from audit.verify import verify_all


class Command(BaseCommand):
    help = (
        "Verify the whole audit chain: every entry's hash and link to the previous one, "
        "sequence numbers contiguous from 1, every checkpoint's Ed25519 signature and hash, "
        "no truncation past the last checkpoint, and the head row. Prints 'ok: N entries' "
        "and exits 0, or exits non-zero naming the first bad sequence number."
    )

    def handle(self, *args, **options):
        result = verify_all()
        if not result.ok:
            raise CommandError(result.problem)
        self.stdout.write(f"ok: {result.last_seq} entries")
