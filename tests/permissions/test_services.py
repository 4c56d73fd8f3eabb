"""Granting levels and managing teams: who may, what changes, what the audit log says."""

import pytest

from audit.models import AuditEntry
from core.errors import NotAllowed, ValidationFailed
from core.levels import Level
from permissions import door, services
from permissions.models import ModuleUserObjectPermission
from registry.models import Membership
from tests import factories
from tests.permissions.conftest import make_grant, make_module

pytestmark = pytest.mark.django_db


def grant_rows(user, module):
    return list(
        ModuleUserObjectPermission.objects.filter(user=user, content_object=module).values_list(
            "permission__codename", flat=True
        )
    )


def test_administrator_grants_reference_and_the_contractor_can_reference(world, acme_modules):
    api = acme_modules["api"]
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level="reference")
    assert door.effective_level(world.contractor, api) == Level.REFERENCE
    assert grant_rows(world.contractor, api) == ["reference_module"]


def test_changing_a_grant_replaces_it_with_exactly_one_codename(world, acme_modules):
    api = acme_modules["api"]
    services.grant_set(
        actor=world.acme_admin, module=api, user=world.contractor, level=Level.PUBLISH
    )
    services.grant_set(
        actor=world.acme_admin, module=api, user=world.contractor, level=Level.REFERENCE
    )
    assert grant_rows(world.contractor, api) == ["reference_module"]
    assert door.effective_level(world.contractor, api) == Level.REFERENCE


def test_granting_none_removes_the_grant(world, acme_modules):
    api = acme_modules["api"]
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level=Level.OPEN)
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level=Level.NONE)
    assert grant_rows(world.contractor, api) == []
    assert door.effective_level(world.contractor, api) == Level.NONE


def test_every_change_is_audited_as_permission_changed(world, acme_modules):
    api = acme_modules["api"]
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level=Level.OPEN)
    entry = AuditEntry.objects.filter(action="permission.changed").order_by("-seq").first()
    assert entry.actor_name == "acme_admin"
    assert entry.infrastructure_id == world.acme.pk
    assert entry.details == {
        "user": "contractor",
        "module": "OrdersAPI",
        "from": "none",
        "to": "open",
        "source": "grant",
    }
    assert door.explain_level(world.contractor, api)[-1].label == "grant by acme_admin"


def test_an_unchanged_grant_writes_no_audit_entry(world, acme_modules):
    api = acme_modules["api"]
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level=Level.OPEN)
    count = AuditEntry.objects.count()
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level=Level.OPEN)
    assert AuditEntry.objects.count() == count


def test_nobody_can_raise_their_own_level(world, acme_modules):
    second_admin = factories.make_user("second_admin")
    factories.make_member(world.acme, second_admin, role=Membership.Role.ADMINISTRATOR)
    with pytest.raises(NotAllowed, match="your own level"):
        services.grant_set(
            actor=world.acme_admin,
            module=acme_modules["api"],
            user=world.acme_admin,
            level=Level.PUBLISH,
        )
    with pytest.raises(NotAllowed, match="your own level"):
        services.grants_set(
            actor=world.acme_admin,
            user=world.acme_admin,
            infrastructure=world.acme,
            changes={acme_modules["api"].pk: Level.PUBLISH},
        )


def test_members_cannot_grant_levels(world, acme_modules):
    with pytest.raises(NotAllowed):
        services.grant_set(
            actor=world.developer,
            module=acme_modules["api"],
            user=world.contractor,
            level=Level.OPEN,
        )
    with pytest.raises(NotAllowed):
        services.grant_set(
            actor=world.contractor,
            module=acme_modules["api"],
            user=world.contractor,
            level=Level.OPEN,
        )
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.NONE


def test_support_cannot_grant_levels_unless_also_an_administrator(world, acme_modules):
    with pytest.raises(NotAllowed):
        services.grant_set(
            actor=world.support, module=acme_modules["api"], user=world.contractor, level=Level.OPEN
        )


def test_emca_administrator_cannot_grant_on_acme_modules(world, acme_modules):
    with pytest.raises(NotAllowed):
        services.grant_set(
            actor=world.emca_admin,
            module=acme_modules["api"],
            user=world.contractor,
            level=Level.OPEN,
        )


def test_a_non_member_cannot_be_granted_a_level(world, acme_modules):
    with pytest.raises(ValidationFailed, match="add them as a member of ACME first"):
        services.grant_set(
            actor=world.acme_admin,
            module=acme_modules["api"],
            user=world.outsider,
            level=Level.OPEN,
        )


def test_an_unknown_level_is_refused(world, acme_modules):
    with pytest.raises(ValidationFailed, match="unknown level"):
        services.grant_set(
            actor=world.acme_admin, module=acme_modules["api"], user=world.contractor, level="owner"
        )


def test_bulk_change_sets_every_ticked_module_in_one_go(world, acme_modules):
    api, billing = acme_modules["api"], acme_modules["billing"]
    make_grant(world.contractor, billing, Level.OPEN)
    changed = services.grants_set(
        actor=world.acme_admin,
        user=world.contractor,
        infrastructure=world.acme,
        changes={api.pk: "reference", billing.pk: "reference"},
    )
    assert changed == {api.pk: Level.REFERENCE, billing.pk: Level.REFERENCE}
    assert grant_rows(world.contractor, api) == ["reference_module"]
    assert grant_rows(world.contractor, billing) == ["reference_module"]
    assert AuditEntry.objects.filter(action="permission.changed").count() == 2


def test_bulk_change_with_a_module_of_another_infrastructure_changes_nothing(world, acme_modules):
    with pytest.raises(ValidationFailed, match="nothing changed"):
        services.grants_set(
            actor=world.acme_admin,
            user=world.contractor,
            infrastructure=world.acme,
            changes={acme_modules["api"].pk: Level.OPEN, acme_modules["ledger"].pk: Level.OPEN},
        )
    with pytest.raises(ValidationFailed):
        services.grants_set(
            actor=world.acme_admin,
            user=world.contractor,
            infrastructure=world.acme,
            changes={acme_modules["api"].pk: Level.OPEN, 987654: Level.OPEN},
        )
    assert grant_rows(world.contractor, acme_modules["api"]) == []
    assert not AuditEntry.objects.filter(action="permission.changed").exists()


def test_bulk_change_is_all_or_nothing_when_a_level_is_bad(world, acme_modules):
    with pytest.raises(ValidationFailed):
        services.grants_set(
            actor=world.acme_admin,
            user=world.contractor,
            infrastructure=world.acme,
            changes={acme_modules["api"].pk: Level.OPEN, acme_modules["billing"].pk: "owner"},
        )
    assert grant_rows(world.contractor, acme_modules["api"]) == []


def test_a_team_gives_its_members_its_level_on_its_modules(world, acme_modules):
    team = services.team_create(
        actor=world.acme_admin,
        infrastructure=world.acme,
        name="Contractors",
        level="reference",
        members=[world.contractor],
        modules=[acme_modules["api"]],
    )
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.REFERENCE
    services.team_update(actor=world.acme_admin, team=team, level=Level.OPEN)
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.OPEN
    services.team_set_members(actor=world.acme_admin, team=team, users=[])
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.NONE
    services.team_set_members(actor=world.acme_admin, team=team, users=[world.contractor])
    services.team_set_modules(actor=world.acme_admin, team=team, modules=[acme_modules["billing"]])
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.NONE
    assert door.effective_level(world.contractor, acme_modules["billing"]) == Level.OPEN
    actions = list(
        AuditEntry.objects.filter(subject_type="team")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == [
        "team.created",
        "team.changed",
        "team.changed",
        "team.changed",
        "team.changed",
    ]


def test_a_team_takes_only_members_and_modules_of_its_infrastructure(world, acme_modules):
    with pytest.raises(ValidationFailed, match="outsider"):
        services.team_create(
            actor=world.acme_admin, infrastructure=world.acme, name="X", members=[world.outsider]
        )
    with pytest.raises(ValidationFailed, match="not modules of ACME"):
        services.team_create(
            actor=world.acme_admin,
            infrastructure=world.acme,
            name="X",
            modules=[acme_modules["ledger"]],
        )
    assert not world.acme.teams.exists()


def test_only_administrators_manage_teams(world, acme_modules):
    for actor in (world.developer, world.support, world.emca_admin):
        with pytest.raises(NotAllowed):
            services.team_create(actor=actor, infrastructure=world.acme, name="X")


def test_team_names_are_unique_per_infrastructure(world):
    services.team_create(actor=world.acme_admin, infrastructure=world.acme, name="X")
    with pytest.raises(ValidationFailed, match="already has a team"):
        services.team_create(actor=world.acme_admin, infrastructure=world.acme, name="X")


def test_module_creator_grant_is_one_publish_row(world, acme_modules):
    module = make_module(world.acme, "Fresh")
    services.grant_set(
        actor=world.acme_admin, module=module, user=world.developer, level=Level.PUBLISH
    )
    assert grant_rows(world.developer, module) == ["publish_module"]
    assert door.effective_level(world.developer, module) == Level.PUBLISH


# "All N matching" of the Modules tab ------------------------------------------------------


def test_all_matching_leaves_other_infrastructures_and_other_users_alone(world, acme_modules):
    ledger = acme_modules["ledger"]  # EMCA's
    make_grant(world.developer, acme_modules["api"], Level.OPEN)
    count = services.grants_set_matching(
        actor=world.acme_admin, user=world.contractor, infrastructure=world.acme, level="open"
    )
    assert count == 2  # ACME's api and billing
    assert grant_rows(world.contractor, ledger) == []
    assert grant_rows(world.developer, acme_modules["api"]) == ["open_module"]
    assert grant_rows(world.contractor, acme_modules["api"]) == ["open_module"]


def test_all_matching_leaves_exactly_one_grant_per_module(world, acme_modules):
    api = acme_modules["api"]
    make_grant(world.contractor, api, Level.PUBLISH)
    for level in ("reference", "open", "open", "none", "publish"):
        services.grants_set_matching(
            actor=world.acme_admin, user=world.contractor, infrastructure=world.acme, level=level
        )
        expected = [] if level == "none" else [f"{level}_module"]
        assert grant_rows(world.contractor, api) == expected, level


def test_all_matching_that_changes_nothing_records_nothing(world, acme_modules):
    args = {"actor": world.acme_admin, "user": world.contractor, "infrastructure": world.acme}
    assert services.grants_set_matching(**args, level="none") == 0
    assert not AuditEntry.objects.filter(action="permission.changed").exists()


@pytest.mark.parametrize(
    ("actor", "user", "error"),
    [
        ("developer", "contractor", NotAllowed),  # not an administrator
        ("emca_admin", "contractor", NotAllowed),  # administrator elsewhere
        ("acme_admin", "acme_admin", NotAllowed),  # oneself
        ("acme_admin", "outsider", ValidationFailed),  # not a member
    ],
)
def test_all_matching_is_for_administrators_on_other_members(
    world, acme_modules, actor, user, error
):
    personas = world.personas()
    with pytest.raises(error):
        services.grants_set_matching(
            actor=personas[actor],
            user=personas[user],
            infrastructure=world.acme,
            level="publish",
        )
    assert not ModuleUserObjectPermission.objects.exists()
