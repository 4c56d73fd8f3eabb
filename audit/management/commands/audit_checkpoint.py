from django.core.management.base import BaseCommand, CommandError

from audit.checkpoints import checkpoint_now


class Command(BaseCommand):
    help = (
        "Sign a checkpoint of the audit chain's current head now with the site's authority "
        "key (checkpoints are also signed every IPP_AUDIT_CHECKPOINT_EVERY entries). "
        "Refuses when the head does not match its entry; run verify_audit then."
    )

    def handle(self, *args, **options):
        try:
            checkpoint = checkpoint_now()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if checkpoint is None:
            self.stdout.write("nothing to sign: the audit log is empty")
            return
        self.stdout.write(
            f"checkpoint at #{checkpoint.seq} ({checkpoint.hash[:12]}…) signed by key {checkpoint.key_id}"
        )
