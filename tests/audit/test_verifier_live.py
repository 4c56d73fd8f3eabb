"""tools/ipp_verify_log.py against the real API of a live server: an owner proves, with the
shipped witness and verifier and nothing but the API, that their log is complete and
unaltered up to a cosigned head — and a tampered log fails naming its index."""

import base64
import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from audit.models import Cosignature, TreeHead
from audit.services import audit_record
from core import keys
from ippsite.audit_ui.witness import load_key, public_text
from ippsite.models import ApiToken
from tests.audit import tamper
from tests.permissions.http import Api

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TOOL = Path(__file__).resolve().parents[2] / "tools" / "ipp_verify_log.py"


@pytest.fixture
def owner(live_server, world, tmp_path):
    """ACME's log of 1,203 entries (two pages of the API and some) cosigned by ACME's witness."""
    for n in range(1203):
        audit_record(
            actor=world.developer,
            action="module.deployed",
            infrastructure=world.acme,
            subject=world.acme_dev_env,
            details={"n": n, "note": "réseau"},
        )
    key, _ = load_key(tmp_path / "witness" / "witness.key")
    status, body = Api(live_server.url, "support").call(
        "POST", "/audit/witnesses", {"name": "acme-owner", "public_key": public_text(key)}
    )
    assert status == 201, body
    _row, token = ApiToken.issue(world.acme_admin)
    call_command(
        "audit_witness",
        *("--url", live_server.url, f"--token={token}", "--state", str(tmp_path / "witness")),
        *("--name", "acme-owner"),
        stdout=StringIO(),
    )
    world.url, world.token, world.log = live_server.url, token, str(world.acme.pk)
    world.pins = [
        *(
            arg
            for kid, raw in keys.public_keys()
            for arg in ("--authority-key", f"{kid}:{_b64(raw)}")
        ),
        *("--witness", f"acme-owner:{public_text(key)}"),
    ]
    return world


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def verify(owner, tmp_path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", str(TOOL), "--url", owner.url, f"--token={owner.token}"]
        + ["--log", owner.log, *owner.pins, *extra],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # nothing of the project importable: the tool stands alone
        timeout=120,
    )


def test_the_owner_proves_their_log_with_the_api_alone(owner, tmp_path):
    required = ("--require-witness", "acme-owner")
    done = verify(owner, tmp_path, *required, "--save", "log.json", "--state", "heads.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ok: 1203 entries in log {owner.log}, root ")
    assert done.stdout.rstrip().endswith("cosigned by acme-owner")
    saved = json.loads((tmp_path / "log.json").read_text())
    assert len(saved["entries"]) == 1203 and saved["tree_head"]["size"] == 1203
    offline = subprocess.run(
        [sys.executable, "-I", str(TOOL), "--export", "log.json", *owner.pins, *required],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout == done.stdout
    # the lines format (a .jsonl name): each entry's exact bytes on a line of its own
    assert verify(owner, tmp_path, "--save", "log.jsonl").returncode == 0
    lines = (tmp_path / "log.jsonl").read_bytes().split(b"\n")
    assert len(lines) == 1 + 1203 + 1 and lines[-1] == b""
    assert [json.loads(line) for line in lines[1:-1]] == [e["entry"] for e in saved["entries"]]
    offline = subprocess.run(
        [sys.executable, "-I", str(TOOL), "--export", "log.jsonl", *owner.pins, *required],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout == done.stdout


def test_an_edited_entry_fails_naming_its_index(owner, tmp_path):
    changed = tamper.document(owner.log, 1100)
    changed["details"]["n"] = "forged"
    tamper.set_bytes(owner.log, 1100, changed)
    done = verify(owner, tmp_path)
    assert done.returncode == 1
    assert f"FAILED: log {owner.log}: the entries give root " in done.stderr


def test_a_rollback_behind_the_verified_head_fails(owner, tmp_path):
    assert verify(owner, tmp_path, "--state", "heads.json").returncode == 0
    tamper.rows(owner.log).filter(index__gte=1000).delete()
    Cosignature.objects.all().delete()
    TreeHead.objects.filter(log_id=owner.log, size__gt=1000).delete()
    tamper.rehash(owner.log, size=1000)
    done = verify(owner, tmp_path, "--state", "heads.json")
    assert done.returncode == 1
    assert f"FAILED: log {owner.log}: rollback: head size 1000 is smaller than" in done.stderr
    required = verify(owner, tmp_path, "--require-witness", "acme-owner")
    assert "no valid cosignature by required witness 'acme-owner'" in required.stderr


def test_an_entry_with_a_line_break_is_named_from_the_json_format(owner, tmp_path):
    """An entry's bytes with a raw newline (between JSON tokens: still JSON, not canonical)
    cannot be one line: the lines the site sends outnumber the entries, so the verifier
    fetches the JSON format, which names the entry, instead of failing on a torn line."""
    raw = tamper.leaves(owner.log)[1100]
    tamper.rows(owner.log).filter(index=1100).update(leaf=raw.replace(b',"index"', b',\n"index"'))
    done = verify(owner, tmp_path, "--save", "log.jsonl")
    assert done.returncode == 1
    assert (
        f"FAILED: log {owner.log}: entry 1100: leaf is not canonical JSON (sorted keys, no "
        "whitespace, UTF-8)" in done.stderr
    ), done.stderr
    # what was saved is the JSON format (an entry with a newline cannot be a line)
    assert json.loads((tmp_path / "log.jsonl").read_text())["entries"][1100]["index"] == 1100


def test_a_routine_run_fetches_the_lines_again_and_verifies_the_new_entries(owner, tmp_path):
    assert verify(owner, tmp_path, "--save", "log.jsonl", "--state", "heads.json").returncode == 0
    saved = (tmp_path / "log.jsonl").read_bytes().split(b"\n")
    assert saved[1:-1] == tamper.leaves(owner.log)  # the exact bytes, as the site sent them
    for _ in range(3):
        audit_record(actor=owner.developer, action="module.deployed", infrastructure=owner.acme)
    again = verify(owner, tmp_path, "--save", "log.jsonl", "--state", "heads.json")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"ok: 1206 entries in log {owner.log}, root ")
