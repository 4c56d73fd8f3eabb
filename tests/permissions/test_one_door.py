"""One door: permissions.door is the only thing that answers "what level has this user",
grants are written only by the grant service, and the guards in front of source and
tokens hold (each test here fails when its guard is removed)."""

import uuid

import pytest

from audit.models import AuditEntry
from core.errors import ValidationFailed
from core.levels import Level
from permissions import door
from permissions.models import ModuleUserObjectPermission
from permissions.services import grant_creator
from tests import factories
from tests.permissions.conftest import make_module

pytestmark = pytest.mark.django_db


# --- (b) the creator's publish is a grant like any other: audited ---------------------


def test_publishing_a_new_module_audits_the_creators_publish_grant(world, publish):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="Fresh")
    module = publish(world.developer, world.acme_dev_env, manifest, {"A.oml": b"a\n"}).module

    entry = AuditEntry.objects.get(
        action="permission.changed", subject_type="module", subject_id=str(module.pk)
    )
    assert entry.actor == world.developer
    assert entry.infrastructure == world.acme
    assert entry.details == {
        "user": "developer",
        "module": "Fresh",
        "from": "none",
        "to": "publish",
        "source": "creator",
    }
    rows = ModuleUserObjectPermission.objects.filter(user=world.developer, content_object=module)
    assert list(rows.values_list("permission__codename", flat=True)) == ["publish_module"]
    assert door.effective_level(world.developer, module) == Level.PUBLISH


def test_publishing_a_new_version_of_a_known_module_grants_nothing_again(world, publish):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="Fresh")
    publish(world.developer, world.acme_dev_env, manifest, {"A.oml": b"a\n"})
    publish(world.developer, world.acme_dev_env, manifest, {"A.oml": b"b\n"})

    assert AuditEntry.objects.filter(action="permission.changed").count() == 1


def test_the_creator_grant_needs_a_member(world):
    ledger = make_module(world.emca, "Ledger")
    with pytest.raises(ValidationFailed, match="not a member of EMCA"):
        grant_creator(user=world.developer, module=ledger)
    assert not ModuleUserObjectPermission.objects.filter(content_object=ledger).exists()
    assert not AuditEntry.objects.filter(action="permission.changed").exists()
