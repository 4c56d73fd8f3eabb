"""Key files: one layout for every key under IPP_KEYS_DIR/<name>/.

    keyring.json   {"current": "<kid>", "retired": ["<kid>", ...]}
    <kid>.key      base64 of the key material, one line

Every file is written by `write_private` (mode 0600, atomically) into a directory of mode
0700. keyring.json is written after the key files it names and a retired key's file is
deleted after keyring.json lists it, so a crash at any point leaves a usable ring.
"""

import base64
import json
import os
import secrets
import time
from pathlib import Path

from core.keys.rings import KEY_ID, KeyConfigError, decode_key
from core.keys.specs import Spec

STATE = "keyring.json"
Loaded = tuple[dict[str, bytes], str, frozenset[str], tuple]  # keys, current, retired, stamp


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> bool:
    """Write `data` to `path`, readable by its owner only, all or nothing.

    The bytes go to a private temporary file beside `path`, which is then renamed over it;
    with `exclusive`, linked instead, so an existing file wins and False is returned.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(temp, path)
            except FileExistsError:
                return False
        else:
            os.replace(temp, path)
        fsync_dir(path.parent)
        return True
    finally:
        temp.unlink(missing_ok=True)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(directory: Path) -> None:
    """Create `directory` (and its parents) with mode 0700 unless it exists."""
    if not directory.is_dir():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)  # whatever the umask


def new_kid() -> str:
    """A key id that sorts by creation time: 20260102T030405Z-1a2b3c4d."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


def stamp(directory: Path) -> tuple | None:
    """What identifies the current keyring.json (it is always replaced, never edited)."""
    try:
        return _stamp(os.stat(directory / STATE))
    except FileNotFoundError:
        return None


def _stamp(st: os.stat_result) -> tuple:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def read(spec: Spec, directory: Path) -> Loaded | None:
    """The ring in `directory`, or None when it has no keyring.json yet."""
    state = directory / STATE
    try:
        with open(state, "rb") as fh:
            st, text = os.fstat(fh.fileno()), fh.read()
    except FileNotFoundError:
        return None
    current, retired = _parse_state(state, text)
    keys = {}
    for path in sorted(directory.glob("*.key")):
        if KEY_ID.fullmatch(path.stem) and path.stem not in retired:
            keys[path.stem] = decode_key(path.read_text(), str(path), spec.size)
    if current not in keys:
        raise KeyConfigError(
            f"{state} names '{current}' as the current {spec.name} key, but "
            f"{directory / f'{current}.key'} is missing or retired"
        )
    return keys, current, retired, _stamp(st)


def _parse_state(state: Path, text: bytes) -> tuple[str, frozenset[str]]:
    try:
        meta = json.loads(text)
        current, retired = meta["current"], meta.get("retired", [])
        if not all(isinstance(kid, str) and KEY_ID.fullmatch(kid) for kid in [current, *retired]):
            raise ValueError("not a key id")
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyConfigError(
            f'{state} must be {{"current": "<kid>", "retired": [...]}}: {exc}'
        ) from None
    return current, frozenset(retired)


def write_key(directory: Path, kid: str, material: bytes) -> None:
    write_private(directory / f"{kid}.key", base64.b64encode(material) + b"\n")


def write_state(directory: Path, current: str, retired=(), *, exclusive: bool = False) -> bool:
    data = json.dumps({"current": current, "retired": sorted(retired)}) + "\n"
    return write_private(directory / STATE, data.encode(), exclusive=exclusive)


def generate(spec: Spec, directory: Path) -> None:
    """A first key for an empty ring. A process that generates at the same moment wins or
    loses as a whole: the loser's key file is removed and it reads the winner's ring."""
    kid = new_kid()
    write_key(directory, kid, spec.generate())
    if not write_state(directory, kid, exclusive=True):
        (directory / f"{kid}.key").unlink(missing_ok=True)


def rotate(spec: Spec, directory: Path, retired: frozenset[str]) -> str:
    kid = new_kid()
    write_key(directory, kid, spec.generate())
    write_state(directory, kid, retired)
    return kid


def retire(directory: Path, current: str, retired: frozenset[str], kid: str) -> None:
    write_state(directory, current, retired | {kid})
    (directory / f"{kid}.key").unlink(missing_ok=True)
    fsync_dir(directory)
