"""A witness (SPEC §6), run by an infrastructure's owner or anyone, from any machine.

It talks to the site only through the JSON API (urllib), so it runs wherever this project
is installed, pointed at any IPP Site. For each log its token reads it fetches the latest
signed tree head, checks the authority's signature, checks that the head is consistent
with the head it cosigned last (a consistency proof; no rollback, no other root at the same
size), and only then posts its own cosignature and remembers the head. It never cosigns a
head it could not check, and never forgets one it cosigned.

State lives in one directory: state.json ({"site": url, "witness": name, "logs": {log: the
head last cosigned}}) and, unless --key says otherwise, witness.key (base64 of the raw
Ed25519 private key, created 0600 on first use).
"""

import base64
import binascii
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit import merkle


class Refused(Exception):
    """The site showed something a witness must not cosign (exit 1)."""


class Unusable(Exception):
    """The site, a key or the state could not be read or written (exit 2)."""


# --- the site's API ------------------------------------------------------------------


class Api:
    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/") + "/api/v1"
        self.token = token

    def _call(self, request) -> tuple[int, dict]:
        request.add_header("Authorization", f"Token {self.token}")
        request.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {"error": "unreadable", "detail": f"HTTP {exc.code}"}
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Unusable(f"{request.full_url}: {exc}") from None

    def get(self, path: str, **query) -> dict:
        url = path if path.startswith("http") else self.base + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        status, body = self._call(urllib.request.Request(url))
        if status != 200:
            raise Unusable(f"GET {url}: HTTP {status} {body.get('error')}: {body.get('detail')}")
        return body

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        data = json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST")
        request.add_header("Content-Type", "application/json")
        return self._call(request)

    def logs(self) -> list[str]:
        found, page = [], self.get("/audit/logs")
        while True:
            found += [row["log"] for row in page["results"]]
            if not page.get("next"):
                return found
            page = self.get(page["next"])

    def keys(self) -> dict[str, bytes]:
        return {
            item["key_id"]: base64.b64decode(item["public_key"])
            for item in self.get("/audit/keys")["keys"]
            if item.get("algorithm") == "ed25519"
        }


# --- local state ---------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    """All or nothing, readable by the owner only."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def load_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The witness's private key from `path`, generated there (0600) if absent."""
    if path.exists():
        try:
            raw = base64.b64decode(path.read_text().strip(), validate=True)
            return Ed25519PrivateKey.from_private_bytes(raw), False
        except (OSError, binascii.Error, ValueError) as exc:
            raise Unusable(f"{path}: not a base64 Ed25519 private key ({exc})") from None
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(path, base64.b64encode(key.private_bytes_raw()) + b"\n")
    return key, True


def public_text(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


@dataclass
class State:
    path: Path
    site: str
    witness: str
    logs: dict = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path, site: str, witness: str | None) -> "State":
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / "state.json"
        if not path.exists():
            return cls(path, site, witness or "")
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise Unusable(f"{path}: unreadable ({exc})") from None
        if saved.get("site") != site:
            raise Unusable(
                f"{path} is the state of a witness of {saved.get('site')}, not {site}: use "
                "one state directory per site"
            )
        return cls(path, site, witness or saved.get("witness", ""), saved.get("logs", {}))

    def save(self) -> None:
        document = {"site": self.site, "witness": self.witness, "logs": self.logs}
        _write_private(self.path, json.dumps(document, indent=1, sort_keys=True).encode())


# --- checks ----------------------------------------------------------------------------


def _head_fields(log: str, head: dict) -> tuple[int, bytes]:
    size, root = head.get("size"), head.get("root_hash")
    if head.get("log") != log or type(size) is not int or size < 1:
        raise Refused(f"log {log}: the tree head is malformed: {head!r}")
    try:
        raw = bytes.fromhex(root)
    except (TypeError, ValueError):
        raw = b""
    if len(raw) != merkle.HASH_SIZE or root != raw.hex():
        raise Refused(f"log {log}: the tree head's root_hash {root!r} is not 64 lowercase hex")
    for name in ("timestamp", "key_id", "signature"):
        if not isinstance(head.get(name), str) or not head[name] or "\n" in head[name]:
            raise Refused(f"log {log}: the tree head's {name} is malformed")
    return size, raw


def check_signature(log: str, head: dict, keys: dict[str, bytes]) -> None:
    size, root = _head_fields(log, head)
    key = keys.get(head["key_id"])
    if key is None:
        raise Refused(
            f"log {log}: the head of size {size} is signed by unknown key {head['key_id']!r}"
        )
    message = merkle.tree_head_message(log, size, root, head["timestamp"])
    try:
        signature = base64.b64decode(head["signature"], validate=True)
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise Refused(
            f"log {log}: the head of size {size} has an authority signature that does not "
            f"verify ({exc.__class__.__name__})"
        ) from None


def needs_cosignature(api: Api, log: str, head: dict, previous: dict | None) -> bool:
    """Refused unless `head` extends `previous`; False when it is the head cosigned already."""
    if previous is None:
        return True
    size, root = head["size"], bytes.fromhex(head["root_hash"])
    seen, seen_root = previous["size"], bytes.fromhex(previous["root_hash"])
    if size < seen:
        raise Refused(
            f"log {log}: rollback: the site's latest head has {size} entries, but this witness "
            f"cosigned a head of {seen}"
        )
    if size == seen:
        if root != seen_root:
            raise Refused(
                f"log {log}: fork: the head of size {size} has root {root.hex()}, but this "
                f"witness cosigned root {seen_root.hex()} at that size"
            )
        return head["timestamp"] != previous.get("timestamp")
    proof = api.get(
        f"/audit/logs/{urllib.parse.quote(log)}/proof/consistency", first=seen, second=size
    )
    try:
        path = [bytes.fromhex(node) for node in proof["path"]]
        merkle.verify_consistency(seen, size, seen_root, root, path)
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(
            f"log {log}: the head of size {size} is not consistent with the head of size "
            f"{seen} this witness cosigned: {exc}"
        ) from None
    return True


def witness_log(api: Api, log: str, state: State, key: Ed25519PrivateKey, keys: dict) -> str:
    """Check and cosign one log's latest head; what happened, as one line."""
    quoted = urllib.parse.quote(log)
    head = api.get(f"/audit/logs/{quoted}/tree-head")
    check_signature(log, head, keys)
    previous = state.logs.get(log)
    if not needs_cosignature(api, log, head, previous):
        return f"log {log}: size {head['size']}, already cosigned"
    size, root = head["size"], bytes.fromhex(head["root_hash"])
    message = merkle.cosignature_message(log, size, root, head["timestamp"])
    body = {
        "witness": state.witness,
        "size": size,
        "root_hash": head["root_hash"],
        "signature": base64.b64encode(key.sign(message)).decode(),
    }
    status, answer = api.post(f"/audit/logs/{quoted}/cosignatures", body)
    if status != 201:
        raise Unusable(
            f"log {log}: the site did not take the cosignature: HTTP {status} "
            f"{answer.get('error')}: {answer.get('detail')}"
        )
    state.logs[log] = {k: head[k] for k in ("size", "root_hash", "timestamp", "key_id")}
    state.save()
    grew = f"from {previous['size']} " if previous else "first seen, trusted from now on, "
    return f"log {log}: cosigned size {size} ({grew}root {head['root_hash'][:16]}…)"
