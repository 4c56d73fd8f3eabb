from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core import keys


class Command(BaseCommand):
    help = (
        "Make a new IPP authority key the one that signs new marks (and audit checkpoints). "
        "Older keys keep verifying the marks they signed until retired with ipp_retire_key. "
        "Keys given by environment (IPP_AUTHORITY_KEYS) cannot be rotated from here."
    )

    def handle(self, *args, **options):
        try:
            old = keys.authority().current_id
            kid = keys.rotate("authority")
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"rotated: {old} -> {kid} (new marks are signed by {kid}; {old} still verifies)"
        )
