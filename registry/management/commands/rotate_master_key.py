"""rotate_master_key: re-wrap every version's data key with a new master key."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import keys
from registry.crypto import CryptoError, MasterKeyring
from registry.models import ModuleVersion

BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        "Rotate the master key that wraps each module version's data key. A new master key "
        "becomes current (a new file under IPP_KEYS_DIR/master/), then every version's data "
        "key is unwrapped and wrapped again with it, all in one transaction: either every "
        "version moves or none does. Source blobs are not touched, and the site keeps "
        "serving throughout (running processes pick up the new key at their next use). Old "
        "master keys are kept, so anything wrapped before the commit still opens; with "
        "--retire-old, keys that no version uses any more are retired and their files "
        "deleted after the commit (do that when no publish is running). When master keys "
        "come from IPP_MASTER_KEYS, no file is written: put the new key first in "
        "IPP_MASTER_KEYS (keep the old ones after it), restart the site, then run this "
        "command to re-wrap every data key with that first key."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retire-old",
            action="store_true",
            help="after a successful rotation, delete master key files no version uses",
        )

    def handle(self, *args, retire_old: bool = False, **options):
        try:
            if not MasterKeyring.load().from_env:
                keys.rotate("master")
            keyring = MasterKeyring.load()
        except (CryptoError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc
        new_id = keyring.current_id
        try:
            rotated = self._rewrap_all(keyring, new_id)
        except CryptoError as exc:
            raise CommandError(
                f"rotation failed and was rolled back: every version keeps its old master key, "
                f"and all old keys are kept ({new_id} wraps new versions; run again once fixed): "
                f"{exc}"
            ) from exc
        self.stdout.write(f"rotated {rotated} data keys to master key {new_id}")
        if retire_old:
            self._retire(keyring)

    def _rewrap_all(self, keyring: MasterKeyring, new_id: str) -> int:
        rotated = 0
        last_pk = 0
        with transaction.atomic():
            pending = ModuleVersion.objects.exclude(master_key_id=new_id).order_by("pk")
            pending = pending.only("pk", "storage_id", "wrapped_key", "master_key_id")
            # Keyset batches rather than one open cursor: the rows change as we go.
            while batch := list(pending.filter(pk__gt=last_pk)[:BATCH_SIZE]):
                for version in batch:
                    aad = version.storage_id.bytes
                    data_key = keyring.unwrap(
                        version.master_key_id, bytes(version.wrapped_key), aad=aad
                    )
                    version.master_key_id, version.wrapped_key = keyring.wrap(data_key, aad=aad)
                ModuleVersion.objects.bulk_update(batch, ["master_key_id", "wrapped_key"])
                rotated += len(batch)
                last_pk = batch[-1].pk
        return rotated

    def _retire(self, keyring: MasterKeyring) -> None:
        in_use = set(
            ModuleVersion.objects.order_by().values_list("master_key_id", flat=True).distinct()
        )
        unused = [kid for kid in keyring.key_ids if kid not in in_use | {keyring.current_id}]
        if keyring.from_env:
            listed = ", ".join(unused) or "none"
            self.stdout.write(
                f"master keys come from IPP_MASTER_KEYS: remove the unused ones there ({listed})"
            )
            return
        retired = []
        try:
            for kid in unused:
                keys.retire("master", kid)
                retired.append(kid)
        except (ImproperlyConfigured, OSError) as exc:
            raise CommandError(f"rotation succeeded, but retiring old keys failed: {exc}") from exc
        self.stdout.write(f"retired {len(retired)} old master keys: {', '.join(retired) or 'none'}")
