"""Start-up refusals (SPEC §9 "Keys"): `manage.py check` errors, so a node that would
serve with the wrong keys does not start.

- registry.E001: DATABASE_URL is set and a key would be generated on this node (each
  node would make its own: marks, sessions and source from one node fail on another),
  unless IPP_ALLOW_GENERATED_KEYS=1.
- registry.E002: a master key that wraps stored data keys is not in this node's keyring.
- registry.E003: this node's master key of that id does not unwrap them (another key
  under the same id).

One version per master key id in use is unwrapped: a keyring either holds the key that
wrapped them or it does not. Imported by registry/apps.py before the models are ready,
so the model is looked up when a check runs.
"""

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, register
from django.db import DatabaseError

from core import keys
from core.keys.specs import SPECS
from registry.crypto import CryptoError, KeyringError, MasterKeyring


@register()
def keys_come_from_the_environment(app_configs=None, **kwargs) -> list[Error]:
    if settings.IPP_ALLOW_GENERATED_KEYS:
        return []
    generated = keys.generated_keys()
    if not generated:
        return []
    variables = ", ".join(SPECS[name].variable for name in generated)
    return [
        Error(
            f"with a shared database every node needs the same keys, but this node would "
            f"generate its own: {variables} unset",
            hint=(
                f"set {variables} on every node (the same values; see README, Settings), or "
                "IPP_ALLOW_GENERATED_KEYS=1 if this is the only node"
            ),
            id="registry.E001",
        )
    ]


@register()
def master_keys_unwrap_stored_data_keys(app_configs=None, **kwargs) -> list[Error]:
    if not settings.IPP_ALLOW_GENERATED_KEYS and "master" in keys.generated_keys():
        return []  # registry.E001 already refuses; loading would generate a key
    try:
        in_use = list(
            _versions().objects.order_by().values_list("master_key_id", flat=True).distinct()
        )
    except DatabaseError:
        return []  # no database yet, or not migrated: no data key to unwrap
    if not in_use:
        return []
    try:
        keyring = MasterKeyring.load()
    except KeyringError as exc:
        return [Error(f"the master keys cannot be loaded: {exc}", id="registry.E002")]
    return [error for kid in sorted(in_use) if (error := _unwrap_one(keyring, kid))]


def _unwrap_one(keyring: MasterKeyring, kid: str) -> Error | None:
    sample = (
        _versions()
        .objects.filter(master_key_id=kid)
        .only("storage_id", "wrapped_key", "master_key_id")
        .order_by("pk")
        .first()
    )
    if sample is None:  # re-wrapped since we looked
        return None
    count = _versions().objects.filter(master_key_id=kid).count()
    try:
        keyring.unwrap(kid, bytes(sample.wrapped_key), aad=sample.storage_id.bytes)
    except KeyringError as exc:
        return Error(
            f"{count} versions' data keys are wrapped by master key '{kid}', which this "
            f"node cannot use: {exc}",
            hint="give this node the same IPP_MASTER_KEYS as the others (old keys included)",
            id="registry.E002",
        )
    except CryptoError as exc:
        return Error(
            f"master key '{kid}' of this node does not unwrap the {count} data keys "
            f"wrapped under that id (version {sample.pk}): {exc}",
            hint="this node holds a different key under the same id: use the site's keys",
            id="registry.E003",
        )
    return None


def _versions():
    return apps.get_model("modules", "ModuleVersion")
