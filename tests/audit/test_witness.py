"""manage.py audit_witness against a live server, through the API only: it cosigns heads it
could check, and refuses (non-zero exit, the log named) a rollback, a fork, a rewrite or a
key it does not know."""

import base64
import os
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import Cosignature, TreeHead
from audit.services import audit_record
from core import keys
from ippsite.audit_ui.witness import load_key, public_text
from ippsite.models import ApiToken
from tests.audit import tamper
from tests.permissions.http import Api

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def grow(world, n: int, infrastructure=None) -> None:
    for i in range(n):
        audit_record(
            actor=world.acme_admin,
            action="module.deployed",
            infrastructure=infrastructure or world.acme,
            details={"n": i},
        )


@pytest.fixture
def site(live_server, world, tmp_path):
    """ACME's log of 5 entries, EMCA's of 1, a registered witness key, an ACME admin token."""
    grow(world, 5)
    grow(world, 1, world.emca)
    key, _ = load_key(tmp_path / "state" / "witness.key")
    support = Api(live_server.url, "support")
    status, body = support.call(
        "POST", "/audit/witnesses", {"name": "acme-owner", "public_key": public_text(key)}
    )
    assert status == 201, body
    _row, token = ApiToken.issue(world.acme_admin)
    world.url, world.token, world.state = live_server.url, token, tmp_path / "state"
    world.log = str(world.acme.pk)
    return world


def witness(site, *extra) -> tuple[int, str]:
    out = StringIO()
    args = ["--url", site.url, f"--token={site.token}", "--state", str(site.state), *extra]
    try:
        call_command("audit_witness", *args, "--name", "acme-owner", stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


def test_the_witness_cosigns_the_logs_it_reads_then_each_new_head(site):
    code, text = witness(site)
    assert code == 0, text
    assert f"log {site.log}: cosigned size 5 (first seen" in text
    assert "ok: 1 logs witnessed as 'acme-owner'" in text  # ACME's admin reads only ACME's
    head = TreeHead.objects.get(log_id=site.log, size=5)
    assert Cosignature.objects.get().head == head
    assert witness(site)[1].count("already cosigned") == 1
    grow(site, 3)
    code, text = witness(site)
    assert (code, f"log {site.log}: cosigned size 8 (from 5 " in text) == (0, True)
    assert Cosignature.objects.count() == 2
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().startswith("ok:")


def test_a_new_key_is_private_and_an_unregistered_witness_is_told_to_register(site, tmp_path):
    state = tmp_path / "elsewhere"
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(
            "audit_witness",
            *("--url", site.url, f"--token={site.token}", "--state", str(state)),
            *("--name", "newcomer"),
            stdout=out,
        )
    assert "new witness key: ask support to register witness 'newcomer'" in out.getvalue()
    assert stat.S_IMODE(os.stat(state / "witness.key").st_mode) == 0o600
    assert refused.value.returncode == 2
    assert "bad_cosignature" in str(refused.value) and "no registered witness" in str(refused.value)


def test_the_witness_refuses_a_rollback_behind_the_head_it_cosigned(site):
    grow(site, 3)
    assert witness(site)[0] == 0  # cosigned at 8
    # A thorough intruder: cut the log to 5, remove the later heads and the cosignature.
    tamper.rows(site.log).filter(index__gte=5).delete()
    Cosignature.objects.all().delete()
    TreeHead.objects.filter(log_id=site.log, size__gt=5).delete()
    tamper.rehash(site.log, size=5)
    code, text = witness(site)
    assert code == 1
    assert f"REFUSED: log {site.log}: rollback: the site's latest head has 5 entries" in text
    assert "cosigned a head of 8" in text
    assert not Cosignature.objects.exists()


def test_the_witness_refuses_another_root_at_the_size_it_cosigned(site):
    assert witness(site)[0] == 0
    tamper.edit_details(site.log, 2, n="rewritten")
    tamper.rehash(site.log, ring=keys.authority())  # even re-signed with the real key
    code, text = witness(site)
    assert code == 1 and f"REFUSED: log {site.log}: fork: the head of size 5" in text


def test_the_witness_refuses_a_rewritten_history_that_grew(site):
    assert witness(site)[0] == 0
    tamper.edit_details(site.log, 1, n="rewritten")
    tamper.rehash(site.log, ring=keys.authority())
    grow(site, 2)  # the rewritten log goes on, properly signed
    code, text = witness(site)
    assert code == 1
    assert (
        f"REFUSED: log {site.log}: the head of size 7 is not consistent with the head of size 5"
        in text
    )
    assert Cosignature.objects.count() == 1  # only the honest one, at 5


def test_the_witness_refuses_a_head_signed_by_a_key_it_does_not_pin(site):
    other = "other:" + public_text(load_key(site.state / "other.key")[0])
    code, text = witness(site, "--authority-key", other)
    assert code == 1 and "signed by unknown key" in text
    pinned = [f"{kid}:{public}" for kid, public in _live_keys()]
    assert witness(site, *[arg for pair in pinned for arg in ("--authority-key", pair)])[0] == 0


def _live_keys():
    return [(kid, base64.b64encode(raw).decode()) for kid, raw in keys.public_keys()]


def test_one_state_directory_serves_one_site(site):
    assert witness(site)[0] == 0
    site.url = site.url.replace("localhost", "127.0.0.1")
    code, text = witness(site)
    assert code == 2 and "use one state directory per site" in text


def test_the_witness_needs_nothing_but_the_api(site, tmp_path):
    """Another process, another data dir, a database it cannot reach: it still witnesses."""
    env = {
        **os.environ,
        "IPP_DATA_DIR": str(tmp_path / "witness-machine"),
        "DATABASE_URL": "postgres://must-not-be-used@invalid.invalid/none",
        "IPP_ALLOW_GENERATED_KEYS": "1",
    }
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "audit_witness"]
        + ["--url", site.url, f"--token={site.token}", "--state", str(site.state)]
        + ["--name", "acme-owner"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"log {site.log}: cosigned size 5" in done.stdout
    assert Cosignature.objects.count() == 1
