"""How a user's effective level on a module is computed (SPEC §3)."""

import random

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from core.levels import CODENAME_LEVELS, Level
from permissions import door, selectors
from permissions.models import ModuleUserObjectPermission
from registry.models import Membership, Module
from tests import factories
from tests.permissions.conftest import make_grant, make_module, make_team

pytestmark = pytest.mark.django_db


def test_member_default_level_applies_to_every_module_of_the_infrastructure(world, acme_modules):
    assert door.effective_level(world.developer, acme_modules["api"]) == Level.OPEN
    assert door.effective_level(world.developer, acme_modules["billing"]) == Level.OPEN


def test_contractor_with_default_none_has_no_level(world, acme_modules):
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.NONE
    assert list(door.modules_for_user(world.contractor, Level.REFERENCE)) == []


def test_administrator_has_publish_on_every_module_of_their_infrastructure(world, acme_modules):
    assert door.effective_level(world.acme_admin, acme_modules["api"]) == Level.PUBLISH
    assert door.effective_level(world.acme_admin, acme_modules["ledger"]) == Level.NONE


def test_support_gets_nothing_by_being_support(world, acme_modules):
    superuser = factories.make_user("root", superuser=True)
    for user in (world.support, superuser):
        assert door.effective_level(user, acme_modules["api"]) == Level.NONE
        assert door.modules_for_user(user, Level.REFERENCE).count() == 0


def test_anonymous_gets_nothing(world, acme_modules):
    assert door.effective_level(AnonymousUser(), acme_modules["api"]) == Level.NONE
    assert door.modules_for_user(AnonymousUser(), Level.REFERENCE).count() == 0
    assert door.explain_level(AnonymousUser(), acme_modules["api"]) == []


def test_a_team_gives_its_level_on_its_modules_only(world, acme_modules):
    make_team(
        world.acme,
        "Contractors",
        Level.REFERENCE,
        members=[world.contractor],
        modules=[acme_modules["api"]],
    )
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.REFERENCE
    assert door.effective_level(world.contractor, acme_modules["billing"]) == Level.NONE


def test_a_grant_gives_its_level_on_one_module(world, acme_modules):
    make_grant(world.contractor, acme_modules["billing"], Level.OPEN)
    assert door.effective_level(world.contractor, acme_modules["billing"]) == Level.OPEN
    assert door.effective_level(world.contractor, acme_modules["api"]) == Level.NONE


def test_the_highest_source_wins(world, acme_modules):
    api = acme_modules["api"]
    make_team(world.acme, "Readers", Level.REFERENCE, members=[world.developer], modules=[api])
    make_team(world.acme, "Publishers", Level.PUBLISH, members=[world.developer], modules=[api])
    make_grant(world.developer, api, Level.REFERENCE)
    assert door.effective_level(world.developer, api) == Level.PUBLISH
    sources = door.explain_level(world.developer, api)
    assert [(s.kind, s.label, s.level, s.wins) for s in sources] == [
        ("default", "default of ACME", Level.OPEN, False),
        ("team", "team Publishers", Level.PUBLISH, True),
        ("team", "team Readers", Level.REFERENCE, False),
        ("grant", "grant", Level.REFERENCE, False),
    ]


def test_a_lower_grant_does_not_lower_the_default(world, acme_modules):
    make_grant(world.developer, acme_modules["api"], Level.REFERENCE)
    assert door.effective_level(world.developer, acme_modules["api"]) == Level.OPEN


def test_removing_a_grant_falls_back_to_the_next_source(world, acme_modules):
    api = acme_modules["api"]
    make_team(world.acme, "Contractors", Level.REFERENCE, members=[world.contractor], modules=[api])
    make_grant(world.contractor, api, Level.PUBLISH)
    assert door.effective_level(world.contractor, api) == Level.PUBLISH
    ModuleUserObjectPermission.objects.filter(user=world.contractor, content_object=api).delete()
    assert door.effective_level(world.contractor, api) == Level.REFERENCE


def test_levels_stop_counting_when_the_user_is_no_longer_a_member(world, acme_modules):
    api = acme_modules["api"]
    make_grant(world.contractor, api, Level.OPEN)
    Membership.objects.filter(user=world.contractor, infrastructure=world.acme).delete()
    assert door.effective_level(world.contractor, api) == Level.NONE
    assert door.explain_level(world.contractor, api) == []


def test_modules_for_user_annotates_each_module_with_the_level(world, acme_modules):
    make_grant(world.contractor, acme_modules["billing"], Level.PUBLISH)
    make_team(
        world.acme, "T", Level.REFERENCE, members=[world.contractor], modules=[acme_modules["api"]]
    )
    levels = {m.name: m.level for m in door.modules_for_user(world.contractor, Level.REFERENCE)}
    assert levels == {"OrdersAPI": Level.REFERENCE, "Billing": Level.PUBLISH}
    assert [m.name for m in door.modules_for_user(world.contractor, Level.OPEN)] == ["Billing"]


def test_modules_for_user_is_one_query(world, acme_modules, django_assert_num_queries):
    for i in range(5):
        make_grant(world.contractor, make_module(world.acme, f"M{i}"), Level.OPEN)
    with django_assert_num_queries(1):
        assert len(list(door.modules_for_user(world.contractor, Level.REFERENCE))) == 5


def test_module_for_user_answers_404_when_invisible_and_403_when_short(world, acme_modules):
    make_grant(world.contractor, acme_modules["api"], Level.REFERENCE)
    assert (
        door.module_for_user(world.contractor, acme_modules["api"].pk, Level.REFERENCE).level
        == Level.REFERENCE
    )
    with pytest.raises(PermissionDenied):
        door.module_for_user(world.contractor, acme_modules["api"].pk, Level.OPEN)
    with pytest.raises(Http404):
        door.module_for_user(world.contractor, acme_modules["billing"].pk, Level.REFERENCE)
    with pytest.raises(Http404):
        door.module_for_user(world.emca_admin, acme_modules["api"].pk, Level.REFERENCE)
    with pytest.raises(Http404):
        door.module_for_user(world.contractor, "not-a-number", Level.REFERENCE)


def test_explain_names_the_administrator_source_as_the_winner(world, acme_modules):
    sources = door.explain_level(world.acme_admin, acme_modules["api"])
    assert sources[0].kind == "administrator" and sources[0].wins
    assert sources[0].level == Level.PUBLISH


def test_explain_is_a_few_queries(world, acme_modules, django_assert_max_num_queries):
    make_grant(world.contractor, acme_modules["api"], Level.OPEN)
    with django_assert_max_num_queries(4):
        door.explain_level(world.contractor, acme_modules["api"])


def _level_by_the_book(user, module) -> Level:
    """SPEC §3 read literally, in Python, from the rows: the oracle for the SQL expression."""
    membership = Membership.objects.filter(user=user, infrastructure=module.infrastructure).first()
    if membership is None:
        return Level.NONE
    sources = [Level.PUBLISH if membership.is_admin else Level(membership.default_level)]
    sources += [Level(t.level) for t in module.teams.filter(members=user)]
    sources += [
        CODENAME_LEVELS[codename]
        for codename in ModuleUserObjectPermission.objects.filter(
            user=user, content_object=module
        ).values_list("permission__codename", flat=True)
    ]
    return max(sources)


def test_every_use_of_the_level_expression_agrees_with_the_rule_on_a_random_mix(world):
    """Filters, annotations, single checks, the member pages and explain: all say what
    SPEC §3 says, on random teams and grants (non-members' stray rows included)."""
    rng = random.Random(20261123)
    users = [world.developer, world.contractor, world.acme_admin]
    modules = [make_module(world.acme, f"R{i}") for i in range(12)] + [make_module(world.emca, "E")]
    teams = [make_team(world.acme, f"T{i}", Level(rng.randint(0, 3))) for i in range(3)]
    for team in teams:
        team.members.set(rng.sample(users, 2))
        team.modules.set(rng.sample(modules, 5))
    for user in users + [world.outsider]:
        for module in rng.sample(modules, 6):
            make_grant(user, module, Level(rng.randint(1, 3)))
    expected = {
        (user.pk, m.pk): _level_by_the_book(user, m)
        for user in users + [world.emca_admin, world.outsider]
        for m in modules
    }
    assert len(set(expected.values())) == 4  # the mix reaches every level
    for user in users + [world.emca_admin, world.outsider]:
        mine = {pk: lvl for (u, pk), lvl in expected.items() if u == user.pk}
        for module in modules:
            assert door.effective_level(user, module) == mine[module.pk], (user, module)
            sources = door.explain_level(user, module)
            winners = [s.level for s in sources if s.wins]
            assert winners == ([mine[module.pk]] if mine[module.pk] else []), (user, module)
        for level in Level:
            picked = set(
                Module.objects.filter(door.level_exactly_q(user, level)).values_list(
                    "pk", flat=True
                )
            )
            assert picked == {pk for pk, lvl in mine.items() if lvl == level}, (user, level)
            at_least = {m.pk for m in door.modules_for_user(user, level)}
            assert at_least == {pk for pk, lvl in mine.items() if lvl >= max(level, 1)}
        for module in door.modules_for_user(user, Level.REFERENCE):
            assert module.level == mine[module.pk]
    for membership in Membership.objects.filter(infrastructure=world.acme):
        for module in selectors.user_modules(membership):
            assert module.level == expected[(membership.user_id, module.pk)]
    for module in modules[:12]:
        for row in selectors.module_permissions(module):
            assert row.level == expected[(row.user.pk, module.pk)], (row.user, module)
