from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core.keys import UnknownKey
from ipp.authority import authority


class Command(BaseCommand):
    help = (
        "Retire an IPP authority key: from now on every mark it signed is refused as "
        "tampered_package. The current key cannot be retired: run ipp_rotate_key first."
    )

    def add_arguments(self, parser):
        parser.add_argument("kid", help="the key id to retire (a mark's key_id)")

    def handle(self, *args, kid: str, **options):
        keyring = authority()
        try:
            keyring.retire(kid)
        except UnknownKey:
            raise CommandError(f"unknown authority key: {kid}") from None
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"retired: {kid} (marks signed by it are refused from now on)")
