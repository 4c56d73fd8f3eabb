"""The site's IPP authority: the Ed25519 keys that sign marks (and audit checkpoints).

They are the "authority" keys of the one key provider, core.keys: loaded once per
process, and again when ipp_rotate_key or ipp_retire_key (here or in another process)
replaces the keyring.
"""

from core.keys import AuthorityRing, authority

__all__ = ["AuthorityRing", "authority"]
