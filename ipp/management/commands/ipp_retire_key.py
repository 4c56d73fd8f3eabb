from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core import keys


class Command(BaseCommand):
    help = (
        "Retire an IPP authority key: from now on every mark it signed is refused as "
        "tampered_package, and its key file is deleted. The current key cannot be retired: "
        "run ipp_rotate_key first. Keys given by environment are retired by listing them "
        "in IPP_AUTHORITY_RETIRED."
    )

    def add_arguments(self, parser):
        parser.add_argument("kid", help="the key id to retire (a mark's key_id)")

    def handle(self, *args, kid: str, **options):
        try:
            keys.retire("authority", kid)
        except keys.UnknownKey:
            raise CommandError(f"unknown authority key: {kid}") from None
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"retired: {kid} (marks signed by it are refused from now on)")
