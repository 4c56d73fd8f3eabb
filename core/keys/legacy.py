"""Older key layouts, converted once into the one layout of core.keys.files.

Before core.keys held every key, a keys dir could hold:

    master-<kid>.key, master-current   the master keys (registry/crypto.py)
    sealing/sealing.key                the sealing key (ipp/sealing.py)
    django-secret-key                  the secret key, as text (ippsite/settings.py)
    authority/keyring.json, <kid>.key  the authority: already the one layout

Conversion writes the new key files, then keyring.json, then deletes the old files; until
keyring.json exists it starts again from the beginning, and key ids are kept (versions
name their master key by id), so two processes converting at once write the same files.
"""

from pathlib import Path

from core.keys import files
from core.keys.rings import KEY_ID, KeyConfigError, decode_key
from core.keys.specs import Spec

SECRET_FILE = "django-secret-key"
SECRET_KID = "legacy"
SEALING_KID = "sealing"  # sealing/sealing.key is already <kid>.key in the one layout


def convert(spec: Spec, keys_dir: Path, directory: Path) -> bool:
    """Convert an older layout of `spec` found in `keys_dir`; False when there is none."""
    converter = {"master": _master, "sealing": _sealing, "secret": _secret}.get(spec.name)
    if converter is None:
        return False
    try:
        return converter(spec, keys_dir, directory)
    except FileNotFoundError:
        # Another process converted meanwhile and removed the old files: it wrote
        # keyring.json first, so the caller reads the ring it left.
        return True


def _master(spec: Spec, keys_dir: Path, directory: Path) -> bool:
    current_file = keys_dir / "master-current"
    if not current_file.exists():
        return False
    old_files, keys = [current_file], {}
    for path in sorted(keys_dir.glob("master-*.key")):
        kid = path.name[len("master-") : -len(".key")]
        if KEY_ID.fullmatch(kid):
            keys[kid] = decode_key(path.read_text(), str(path), spec.size)
            old_files.append(path)
    current = current_file.read_text().strip()
    if current not in keys:
        if (directory / files.STATE).exists():
            return True  # converted by another process while we read
        raise KeyConfigError(
            f"{current_file} names master key '{current}', but "
            f"{keys_dir / f'master-{current}.key'} is missing or unreadable"
        )
    _adopt(directory, keys, current, old_files)
    return True


def _sealing(spec: Spec, keys_dir: Path, directory: Path) -> bool:
    path = directory / f"{SEALING_KID}.key"
    if not path.exists():
        return False
    decode_key(path.read_text(), str(path), spec.size)
    files.write_state(directory, SEALING_KID, exclusive=True)
    return True


def _secret(spec: Spec, keys_dir: Path, directory: Path) -> bool:
    path = keys_dir / SECRET_FILE
    if not path.exists():
        return False
    text = path.read_text().strip()
    if not text:
        raise KeyConfigError(f"{path} is empty")
    _adopt(directory, {SECRET_KID: text.encode()}, SECRET_KID, [path])
    return True


def _adopt(directory: Path, keys: dict[str, bytes], current: str, old_files: list[Path]) -> None:
    for kid, material in keys.items():
        files.write_key(directory, kid, material)
    files.write_state(directory, current, exclusive=True)
    for path in old_files:
        path.unlink(missing_ok=True)
    files.fsync_dir(old_files[0].parent)
