"""Every action the site writes renders on the audit page, in both logs of a two-sided event,
whatever its details hold (a key named `items` once made the page answer 500)."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from audit.actions import ACTIONS, TWO_SIDED
from audit.models import AuditLog
from audit.services import audit_record

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["core", "audit", "registry", "permissions", "ipp", "publishing", "portal", "ippsite"]
LITERAL = re.compile(
    r'"((?:user|infrastructure|environment|membership|permission|team|ipp|module|transfer'
    r'|invitation|witness)\.[a-z_]+)"'
)
# Strings of that shape that are not actions (attribute paths in messages and lookups).
NOT_ACTIONS = {"environment.name", "module.key", "module.name", "user.username", "witness.key"}

# Details as the services write them, with every shape the page has to read.
DETAILS = {
    "items": [
        {"module": "CustomerCore", "key": "5f0e", "version": 3, "digest": "ab12", "epoch": 2}
    ],
    "keys": ["a", "b"],
    "values": {"nested": True},
    "to": {"role": "member", "default_level": "open", "create_modules": False},
    "from": None,
    "reason": "ipp_portal_blocked",
    "note": "réseau <b>bold</b>",
}


def written_actions() -> set[str]:
    found = set()
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            if "migrations" not in path.parts:
                found |= set(LITERAL.findall(path.read_text()))
    return found - NOT_ACTIONS


def test_every_action_the_code_writes_is_in_the_registry():
    assert written_actions() <= set(ACTIONS), written_actions() - set(ACTIONS)


def test_one_entry_of_every_action_renders_in_every_log_it_is_in(client, world, publish):
    version = publish(world.developer, world.acme_dev_env).version
    subjects = [world.acme, world.acme_dev_env, version, version.module, world.developer, None]
    for number, code in enumerate(sorted(ACTIONS)):
        two_sided = code in TWO_SIDED
        audit_record(
            actor=world.acme_admin,
            action=code,
            infrastructure=None if code in ("user.created", "witness.registered") else world.acme,
            also=world.emca if two_sided else None,
            subject=subjects[number % len(subjects)],
            details=DETAILS,
        )
    client.force_login(world.support)
    for log in AuditLog.objects.all():
        response = client.get(reverse("audit:log", args=[log.id]))
        assert response.status_code == 200, log.id
        table = response.content.decode().split('data-testid="audit-entries"')[1]
        for row in response.context["page"].rows:
            assert f'title="{row.entry.action}">{ACTIONS[row.entry.action].label}<' in table
        assert "CustomerCore v3" in table and "&lt;b&gt;bold&lt;/b&gt;" in table
    emca = client.get(reverse("audit:log", args=[str(world.emca.pk)])).context["page"].rows
    assert {row.entry.action for row in emca} == set(TWO_SIDED)


@pytest.mark.slow
def test_the_demo_story_renders_on_every_log_page(client, db):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(get_user_model().objects.get(username="support"))
    logs = list(AuditLog.objects.all())
    assert len(logs) >= 3
    for log in logs:
        assert client.get(reverse("audit:log", args=[log.id])).status_code == 200
    call_command("verify_audit", stdout=StringIO())
