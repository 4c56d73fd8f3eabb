"""One door: permissions.door is the only thing that answers "what level has this user",
grants are written only by the grant service, and the guards in front of source and
tokens hold (each test here fails when its guard is removed)."""

import ast
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404

from audit.models import AuditEntry, TreeHead
from core.errors import ValidationFailed
from core.levels import Level
from ippsite.models import ApiToken
from permissions import door
from permissions.models import ModuleUserObjectPermission
from permissions.services import grant_creator
from publishing.source import package_export, source_files, source_read
from tests import factories
from tests.permissions.conftest import make_grant, make_module

pytestmark = pytest.mark.django_db
User = get_user_model()

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "audit", "registry", "permissions", "ipp", "publishing", "portal", "ippsite")


# --- (a) no second door: guardian's backend does not answer module levels ------------


def test_a_non_members_stray_grant_gives_nothing_through_the_door_nor_has_perm(world):
    ledger = make_module(world.emca, "Ledger")
    make_grant(world.contractor, ledger, Level.PUBLISH)  # contractor is not in EMCA

    assert door.effective_level(world.contractor, ledger) == Level.NONE
    assert not world.contractor.has_perm("publish_module", ledger)
    assert not world.contractor.has_perm("modules.publish_module", ledger)
    assert not world.contractor.has_perm("reference_module", ledger)
    assert world.contractor.get_all_permissions(ledger) == set()


def test_has_perm_is_not_a_way_in_even_for_a_member_the_door_lets_in(world):
    api = make_module(world.acme, "OrdersAPI")
    make_grant(world.contractor, api, Level.OPEN)

    assert door.effective_level(world.contractor, api) == Level.OPEN
    assert not world.contractor.has_perm("open_module", api)


def test_the_door_still_answers_the_api_for_grants(world, client):
    api = make_module(world.acme, "OrdersAPI")
    ledger = make_module(world.emca, "Ledger")
    make_grant(world.contractor, api, Level.REFERENCE)
    make_grant(world.contractor, ledger, Level.PUBLISH)  # stray: not a member of EMCA
    _row, token = ApiToken.issue(world.contractor)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}

    assert client.get(f"/api/v1/modules/{api.pk}", **auth).status_code == 200
    assert client.get(f"/api/v1/modules/{ledger.pk}", **auth).status_code == 404
    names = [m["name"] for m in client.get("/api/v1/modules", **auth).json()["results"]]
    assert names == ["OrdersAPI"]


def test_the_django_admin_still_opens_for_a_superuser(world, client):
    root = factories.make_user("root", superuser=True)
    make_module(world.acme, "OrdersAPI")
    client.force_login(root)

    assert client.get("/admin/").status_code == 200
    page = client.get("/admin/modules/module/")
    assert page.status_code == 200
    assert b"OrdersAPI" in page.content


def test_a_developer_cannot_open_the_django_admin(world, client):
    client.force_login(world.developer)
    assert client.get("/admin/modules/module/").status_code == 302  # to the admin login


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text()


def _names_used(text: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_nothing_asks_guardian_or_has_perm_about_module_levels():
    """Object permissions go through the door; grants are written by the grant service."""
    asking = {
        "has_perm",
        "has_perms",
        "get_perms",
        "get_user_perms",
        "get_all_permissions",
        "assign_perm",
        "remove_perm",
        "get_objects_for_user",
        "get_users_with_perms",
        "ObjectPermissionChecker",
        "guardian.shortcuts",
        "guardian.core",
        "guardian.backends",
        "guardian.decorators",
        "guardian.mixins",
    }
    offenders = {
        path: sorted(used) for path, text in _sources() if (used := _names_used(text) & asking)
    }
    assert offenders == {}
    grant_rows = {
        path for path, text in _sources() if "ModuleUserObjectPermission" in _names_used(text)
    }
    # models (the table), the door and its level expression (reads), the grant service (writes)
    assert grant_rows <= {
        "permissions/models.py",
        "permissions/door.py",
        "permissions/levels_sql.py",
        "permissions/services.py",
    }, grant_rows


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


def test_the_creator_grant_takes_only_the_creators_own_locked_membership(world):
    """Publishing hands over the membership row it locked; one of someone else, or of
    another infrastructure, is refused before anything is written."""
    ledger = make_module(world.acme, "Ledger")
    others = door.membership_for(world.contractor, world.acme)
    elsewhere = factories.make_member(world.emca, world.developer)
    for wrong in (others, elsewhere):
        with pytest.raises(ValueError, match="not the creator's"):
            grant_creator(user=world.developer, module=ledger, membership=wrong)
    assert not ModuleUserObjectPermission.objects.filter(content_object=ledger).exists()
    assert not AuditEntry.objects.filter(action="permission.changed").exists()


def test_a_publishs_creator_grant_and_its_publish_share_one_signed_head(world, publish):
    log_id = str(world.acme.pk)
    before = TreeHead.objects.filter(log_id=log_id).count()
    manifest = factories.manifest(key=str(uuid.uuid4()), name="Fresh")
    publish(world.developer, world.acme_dev_env, manifest, {"A.oml": b"a\n"})
    actions = (
        AuditEntry.objects.filter(log_id=log_id).order_by("index").values_list("action", flat=True)
    )
    assert list(actions)[-2:] == ["permission.changed", "module.published"]
    assert TreeHead.objects.filter(log_id=log_id).count() == before + 1


# --- (d) guards: `open` in front of source, an active user behind every token ---------


@pytest.fixture
def published(world, publish):
    """ACME's CustomerCore v1 (marked) with one source file, and the contractor at reference."""
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    version = publish(
        world.developer, world.acme_dev_env, manifest, {"Logic/Get.oml": b"secret\n"}
    ).version
    make_grant(world.contractor, version.module, Level.REFERENCE)
    return version


def _source_reads():
    return AuditEntry.objects.filter(action__in=["module.source_viewed", "module.exported"])


SOURCE_CALLS = pytest.mark.parametrize(
    "call",
    [
        lambda user, version: source_files(user=user, version=version),
        lambda user, version: source_read(user=user, version=version, path="Logic/Get.oml"),
        lambda user, version: package_export(user=user, version=version),
    ],
    ids=["source_files", "source_read", "package_export"],
)


@SOURCE_CALLS
def test_reference_is_not_enough_to_read_or_export_source(world, published, call):
    assert door.effective_level(world.contractor, published.module) == Level.REFERENCE

    with pytest.raises(PermissionDenied):
        call(world.contractor, published)
    with pytest.raises(Http404):
        call(world.emca_admin, published)  # no level at all: not disclosed
    assert not _source_reads().exists()

    assert call(world.developer, published)  # open: allowed (and audited when read)


@SOURCE_CALLS
def test_a_module_the_door_gave_another_user_lends_no_level(world, published, call):
    """A view hands the service the module the door gave for the requester (its level on
    it), and the service does not ask again; a module the door gave someone else must not
    carry that someone's level in."""
    module = door.module_for_user(world.developer, published.module_id, Level.OPEN)
    published.module = module  # as a view attaches it, stamped for the developer
    with pytest.raises(PermissionDenied):
        call(world.contractor, published)
    with pytest.raises(Http404):
        call(world.emca_admin, published)
    assert not _source_reads().exists()

    mine = door.module_for_user(world.contractor, published.module_id, Level.REFERENCE)
    published.module = mine  # the contractor's own: reference, still not open
    with pytest.raises(PermissionDenied):
        call(world.contractor, published)
    assert call(world.developer, published)  # asked again for the developer: open


def test_a_deactivated_users_token_answers_401(world, client):
    _row, token = ApiToken.issue(world.developer)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    assert client.get("/api/v1/modules", **auth).status_code == 200

    world.developer.is_active = False
    world.developer.save(update_fields=["is_active"])

    reply = client.get("/api/v1/modules", **auth)
    assert reply.status_code == 401
    assert reply.json()["error"] == "not_authenticated"
    assert reply["WWW-Authenticate"] == "Token"


def test_a_token_whose_user_went_inactive_without_revocation_answers_401(world, client):
    """Deactivating through save() also revokes the user's tokens (a post_save signal);
    a deactivation that skips it (a queryset update, a bulk admin action, SQL) must still
    close the API: token authentication itself refuses an inactive user."""
    _row, token = ApiToken.issue(world.developer)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    User.objects.filter(pk=world.developer.pk).update(is_active=False)  # no signal

    assert ApiToken.objects.get(pk=_row.pk).revoked_at is None
    reply = client.get("/api/v1/modules", **auth)
    assert reply.status_code == 401
    assert reply.json()["error"] == "not_authenticated"
