"""audit_witness: check and cosign the latest head of every audit log a token reads."""

import base64
import binascii
import socket
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ippsite.audit_ui.witness import (
    Api,
    Refused,
    State,
    Unusable,
    load_key,
    public_text,
    witness_log,
)


def _pinned(pairs: list[str]) -> dict[str, bytes]:
    keys = {}
    for pair in pairs:
        kid, _, text = pair.rpartition(":")
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if not kid or len(raw) != 32:
            raise CommandError(f"--authority-key {pair!r}: want KID:BASE64 of a 32-byte key")
        keys[kid] = raw
    return keys


class Command(BaseCommand):
    help = (
        "Be a witness of an IPP Site's audit logs, through its API only (run it from any "
        "machine). For each log the token reads: fetch the latest signed tree head, check "
        "its signature with the site's authority keys (GET /audit/keys, or the keys pinned "
        "with --authority-key), check that it is consistent with the head this witness "
        "cosigned last (kept in --state DIR): never smaller (rollback), never another root at "
        "the same size (fork), and a valid consistency proof from it. Only then sign the "
        "head's cosignature message with the witness key and post it. Exits 1 naming the log "
        "on any refusal (nothing is cosigned for that log), 2 when the site, key or state "
        "cannot be used. The witness (--name and its public key, printed when the key is "
        "created) must be registered by support first."
    )
    requires_system_checks: list = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="the site, e.g. https://ipp.example")
        parser.add_argument("--token", required=True, help="an API token of a log's reader")
        parser.add_argument("--state", required=True, metavar="DIR", help="this witness's state")
        parser.add_argument(
            "--key", metavar="FILE", help="the witness's private key (default DIR/witness.key)"
        )
        parser.add_argument("--name", help="the witness's registered name (kept in DIR)")
        parser.add_argument(
            "--authority-key",
            action="append",
            default=[],
            metavar="KID:BASE64",
            help="pin the authority's public keys instead of trusting GET /audit/keys",
        )

    def handle(self, *args, url, token, state, key=None, name=None, authority_key=(), **options):
        directory = Path(state)
        try:
            witness_key, created = load_key(Path(key) if key else directory / "witness.key")
            record = State.load(directory, url.rstrip("/"), name)
            record.witness = record.witness or socket.gethostname()
            if created:
                self.stdout.write(
                    f"new witness key: ask support to register witness {record.witness!r} "
                    f"with public key {public_text(witness_key)}"
                )
            api = Api(url, token)
            keys = _pinned(authority_key) or api.keys()
            logs = api.logs()
        except Unusable as exc:
            raise CommandError(str(exc), returncode=2) from None
        refused, unusable = [], []
        for log in logs:
            try:
                self.stdout.write(witness_log(api, log, record, witness_key, keys))
            except Refused as exc:
                refused.append(str(exc))
            except Unusable as exc:
                unusable.append(str(exc))
        record.save()
        if refused:
            raise CommandError("REFUSED: " + "\nREFUSED: ".join(refused + unusable), returncode=1)
        if unusable:
            raise CommandError("\n".join(unusable), returncode=2)
        self.stdout.write(f"ok: {len(logs)} logs witnessed as {record.witness!r}")
