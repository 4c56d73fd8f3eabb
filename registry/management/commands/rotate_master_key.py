"""rotate_master_key: re-wrap every version's data key with a new master key."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core import jobs
from registry import rotation
from registry.crypto import CryptoError, MasterKeyring

RETIRE_ATTEMPTS = 5


class Command(BaseCommand):
    help = (
        "Rotate the master key that wraps each module version's data key, without downtime "
        "or loss. A new master key becomes current (a new file under IPP_KEYS_DIR/master/; "
        "with --resume, or when master keys come from IPP_MASTER_KEYS, the current key is "
        "kept), then every data key on another key is unwrapped and wrapped again with the "
        "current one, in batches of --batch versions, each its own transaction: an "
        "interrupted run loses nothing (both keys still open everything) and `--resume` "
        "finishes it. Source objects are not touched, and publishes carry on throughout. "
        "With --retire-old, master keys no version uses any more are then retired (their "
        "files deleted), decided under a lock that waits for publishes in flight, so a "
        "publish that wrapped with the old key mid-rotation keeps its key (and is re-wrapped "
        "by another pass). When master keys come from IPP_MASTER_KEYS nothing is written: "
        "put the new key first there (keep the old ones after it) on every node, restart, "
        "run this command, then remove the keys it lists as unused."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--retire-old",
            action="store_true",
            help="afterwards, retire master keys no version uses",
        )
        parser.add_argument(
            "--resume",
            action="store_true",
            help="do not make a new key: finish re-wrapping onto the current one",
        )
        parser.add_argument(
            "--queue",
            action="store_true",
            help="re-wrap through the job queue (IPP_BROKER_URL): each batch is a job that "
            "queues the next, so workers do it and this command returns at once; run "
            "`--resume --queue` again if the chain was cut, then `--resume --retire-old`",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=rotation.DEFAULT_BATCH,
            help=f"versions per transaction (default {rotation.DEFAULT_BATCH})",
        )

    def handle(
        self,
        *args,
        retire_old=False,
        resume=False,
        queue=False,
        batch=rotation.DEFAULT_BATCH,
        **opts,
    ):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        if queue and retire_old:
            raise CommandError(
                "--retire-old waits for the re-wrapping: run it afterwards with --resume"
            )
        try:
            if not resume and not MasterKeyring.load().from_env:
                rotation.rotate_master_key()
            new_id = MasterKeyring.load().current_id
        except (CryptoError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from exc
        if queue:
            # The `registry.rewrap_master_keys` job (ippsite/jobs.py): one batch per job.
            jobs.send("registry.rewrap_master_keys", 0, batch)
            self.stdout.write(f"queued the re-wrapping onto master key {new_id}")
            return
        rotated = self._rewrap(new_id, batch)
        self.stdout.write(f"rotated {rotated} data keys to master key {new_id}")
        if retire_old:
            self._retire(batch)

    def _rewrap(self, new_id: str, batch: int) -> int:
        try:
            return rotation.rewrap_all(batch=batch)
        except CryptoError as exc:
            raise CommandError(
                f"rotation stopped: the batch that failed was rolled back, earlier batches "
                f"are on {new_id}, every other version keeps its old master key and no key "
                f"was retired; fix the cause and run again with --resume: {exc}"
            ) from exc

    def _retire(self, batch: int) -> None:
        for _attempt in range(RETIRE_ATTEMPTS):
            try:
                result = rotation.retire_unused()
            except (ImproperlyConfigured, OSError) as exc:
                raise CommandError(
                    f"rotation succeeded, but retiring old keys failed: {exc}"
                ) from exc
            if not result.in_use:
                break
            # Publishes that wrapped with an old key while we re-wrapped: one more pass.
            self._rewrap(result.current, batch)
        if result.from_env:
            listed = ", ".join(result.unused_in_env) or "none"
            self.stdout.write(
                f"master keys come from IPP_MASTER_KEYS: remove the unused ones there ({listed})"
            )
        else:
            retired = ", ".join(result.retired) or "none"
            self.stdout.write(f"retired {len(result.retired)} old master keys: {retired}")
        if result.in_use:
            kept = ", ".join(f"{kid} ({n} versions)" for kid, n in sorted(result.in_use.items()))
            raise CommandError(f"old master keys still in use, kept: {kept}; run again")
