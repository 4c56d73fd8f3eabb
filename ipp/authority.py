"""The site's IPP authority: the Ed25519 keyring that signs marks (and audit checkpoints).

Loaded on every use, so a key rotated or retired by a management command in another
process takes effect at once.
"""

from core.keys import Keyring

AUTHORITY = "authority"


def authority() -> Keyring:
    return Keyring.load(AUTHORITY)
