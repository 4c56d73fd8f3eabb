"""Schemathesis over the whole API (SPEC §10): every operation of /api/v1/schema, all checks.

For each persona (an infrastructure administrator and a contractor of the demo data), a
live server on a test database rebuilt by `seed_demo`, and the schemathesis CLI in a
subprocess against it: every phase (coverage, fuzzing, stateful), `--checks all`. Zero
failures: no 500, no status the schema does not document, no answer off its schema, no
schema-valid request refused with 400, no invalid one accepted.

The fuzzer signs in through POST /auth/token itself (fuzz/ipp_fuzz_hooks.py), so
DELETE /auth/token is fuzzed too: it revokes the token in use, and the hook signs in
again. No operation is excluded.

Bounded: IPP_FUZZ_EXAMPLES cases per operation and phase (default 20), one worker, a fixed
seed (IPP_FUZZ_SEED) so a failure replays; no timing assertions.
"""

import io
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from ippsite.management.commands.seed_demo import DEMO_PASSWORD
from ippsite.models import ApiToken

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

User = get_user_model()

# An infrastructure administrator and a contractor of the demo data (SPEC §9).
PERSONAS = ["acme-admin", "acme-contractor"]
MAX_EXAMPLES = int(os.environ.get("IPP_FUZZ_EXAMPLES", "10"))
SEED = int(os.environ.get("IPP_FUZZ_SEED", "20261207"))
# One: the live server shares one SQLite connection between its threads, so parallel
# requests there fail in ways a real server's do not ("database table is locked").
WORKERS = os.environ.get("IPP_FUZZ_WORKERS", "1")
# Only the operations whose path matches this regular expression (to replay a failure).
ONLY = os.environ.get("IPP_FUZZ_PATHS", "")
HOOKS_DIR = Path(__file__).with_name("fuzz")


def fetch_schema(base_url: str, token: str, into: Path) -> Path:
    """The schema as the site serves it (to a signed-in caller), saved for the CLI."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/schema?format=json", headers={"Authorization": f"Token {token}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        schema = json.loads(response.read())
    path = into / "schema.json"
    path.write_text(json.dumps(schema))
    return path


def schemathesis_run(schema: Path, base_url: str, persona: str, cwd: Path):
    """The schemathesis CLI of this virtualenv, signing in as `persona`."""
    cli = Path(sys.executable).with_name("st")
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "PYTHONPATH": str(HOOKS_DIR),
        "SCHEMATHESIS_HOOKS": "ipp_fuzz_hooks",
        "IPP_FUZZ_BASE_URL": base_url,
        "IPP_FUZZ_USERNAME": persona,
        "IPP_FUZZ_PASSWORD": DEMO_PASSWORD,
    }
    command = [
        str(cli),
        "--config-file",
        str(HOOKS_DIR / "schemathesis.toml"),
        "run",
        str(schema),
        "--url",
        base_url,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        WORKERS,
        "--generation-database",
        "none",
        "--no-color",
        *(["--include-path-regex", ONLY] if ONLY else []),
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)


@pytest.mark.parametrize("persona", PERSONAS)
def test_schemathesis_finds_nothing(live_server, persona, tmp_path):
    call_command("seed_demo", stdout=io.StringIO())
    _row, token = ApiToken.issue(User.objects.get(username=persona))
    schema = fetch_schema(live_server.url, token, tmp_path)
    result = schemathesis_run(schema, live_server.url, persona, tmp_path)
    report = result.stdout[-30000:] + result.stderr[-5000:]
    print(report)  # shown with -rP or -s
    assert result.returncode == 0, report
