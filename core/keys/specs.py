"""The four keys an operator keeps (SPEC §9), and how each is given by the environment.

    secret     IPP_SECRET_KEY       Django's secret key, used as given
    master     IPP_MASTER_KEYS      "kid:base64,..." 32 bytes each, the first current
    authority  IPP_AUTHORITY_KEYS   "kid:base64,..." raw Ed25519 private keys, the first
                                    current; IPP_AUTHORITY_RETIRED "kid,..." verify nothing
    sealing    IPP_SEALING_KEY      base64 of 32 bytes

An empty or blank variable counts as unset.
"""

import os
import secrets
from dataclasses import dataclass

from core.keys.rings import KEY_ID, KeyConfigError, decode_key

ENV_KEY_ID = "env"  # the id of a key given as a single value (secret, sealing)


@dataclass(frozen=True)
class Spec:
    name: str
    variable: str
    size: int | None  # bytes of key material; None: any length (the secret)
    listed: bool  # "kid:base64,..." rather than one value
    rotatable: bool
    retired_variable: str = ""

    def generate(self) -> bytes:
        if self.size is None:  # the secret: printable, like Django's own
            return secrets.token_urlsafe(64).encode()
        return secrets.token_bytes(self.size)

    def given(self) -> bool:
        return bool(os.environ.get(self.variable, "").strip())

    def environment(self) -> tuple[str, ...]:
        """The raw values this key reads from the environment (to notice a change)."""
        names = (
            (self.variable, self.retired_variable) if self.retired_variable else (self.variable,)
        )
        return tuple(os.environ.get(name, "") for name in names)

    def parse(self) -> tuple[dict[str, bytes], str, frozenset[str]]:
        """(keys, current id, retired ids) from the environment; call only when given()."""
        raw = os.environ[self.variable]
        if not self.listed:
            key = raw.encode() if self.size is None else decode_key(raw, self.variable, self.size)
            return {ENV_KEY_ID: key}, ENV_KEY_ID, frozenset()
        keys = _parse_listed(self.variable, raw, self.size)
        current = next(iter(keys))
        retired = frozenset()
        if self.retired_variable:
            retired = _parse_ids(self.retired_variable)
            if current in retired:
                raise KeyConfigError(
                    f"{self.retired_variable} retires '{current}', the current key of "
                    f"{self.variable}: put a new key first in {self.variable}"
                )
        return keys, current, retired


def _parse_listed(variable: str, raw: str, size: int | None) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for n, item in enumerate(part.strip() for part in raw.split(",")):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        kid = kid.strip()
        if not sep or not KEY_ID.fullmatch(kid):
            raise KeyConfigError(
                f"{variable} entry {n + 1} must be <id>:<base64 key>, with an id of letters, "
                "digits, '.', '_' or '-' (at most 64)"
            )
        if kid in keys:
            raise KeyConfigError(f"{variable} names key '{kid}' twice")
        keys[kid] = decode_key(encoded, f"{variable} key '{kid}'", size)
    if not keys:
        raise KeyConfigError(f"{variable} is set but holds no key")
    return keys


def _parse_ids(variable: str) -> frozenset[str]:
    ids = [item.strip() for item in os.environ.get(variable, "").split(",") if item.strip()]
    for kid in ids:
        if not KEY_ID.fullmatch(kid):
            raise KeyConfigError(f"{variable} holds '{kid}', which is not a key id")
    return frozenset(ids)


SECRET = Spec("secret", "IPP_SECRET_KEY", size=None, listed=False, rotatable=False)
MASTER = Spec("master", "IPP_MASTER_KEYS", size=32, listed=True, rotatable=True)
AUTHORITY = Spec(
    "authority",
    "IPP_AUTHORITY_KEYS",
    size=32,
    listed=True,
    rotatable=True,
    retired_variable="IPP_AUTHORITY_RETIRED",
)
SEALING = Spec("sealing", "IPP_SEALING_KEY", size=32, listed=False, rotatable=False)
SPECS = {spec.name: spec for spec in (SECRET, MASTER, AUTHORITY, SEALING)}
