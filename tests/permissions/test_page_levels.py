"""The list helpers of the door agree with the rule: `visible_modules(user, L)` is exactly
the modules whose effective level is at least L, and `levels_of` (one compiled statement
per user, reused for every page) gives `effective_level` for each module, whatever the
sources (administrator, default, teams, grants, a stray grant of a non-member), also past
one batch of modules and for several users in turn (no user's statement serves another).
"""

import random
import uuid

import pytest

from core.levels import Level
from permissions import door, selectors
from registry.models import Membership, Module
from tests import factories
from tests.permissions.conftest import make_grant, make_team

pytestmark = pytest.mark.django_db


def _modules(infrastructure, count, prefix):
    Module.objects.bulk_create(
        Module(infrastructure=infrastructure, key=uuid.uuid4(), name=f"{prefix}{i:03d}")
        for i in range(count)
    )
    return list(Module.objects.filter(name__startswith=prefix).order_by("name"))


def test_visible_modules_and_levels_of_agree_with_effective_level(world):
    rng = random.Random(14)
    acme = _modules(world.acme, 70, "A")
    emca = _modules(world.emca, 10, "E")
    levels = [Level.REFERENCE, Level.OPEN, Level.PUBLISH]
    users = [world.developer, world.contractor, world.acme_admin, world.outsider]
    for n, level in enumerate(levels):
        make_team(
            world.acme,
            f"T{n}",
            level,
            members=rng.sample(users, 2),
            modules=rng.sample(acme, 15),
        )
    for user in users:
        for module in rng.sample(acme + emca, 25):
            make_grant(user, module, rng.choice(levels))
    factories.make_member(world.emca, world.outsider, default_level=Level.REFERENCE)
    everything = acme + emca
    for user in [*users, world.emca_admin, world.support]:
        expected = {m.pk: door.effective_level(user, m) for m in everything}
        assert door.levels_of(user, everything) == expected, user.username
        assert door.levels_of(user, [m.pk for m in everything[:3]]) == {
            m.pk: expected[m.pk] for m in everything[:3]
        }
        for level in (Level.NONE, *levels):
            visible = set(door.visible_modules(user, level).values_list("pk", flat=True))
            wanted = max(level, Level.REFERENCE)
            assert visible == {pk for pk, got in expected.items() if got >= wanted}, (
                user.username,
                level,
            )
            annotated = dict(door.modules_for_user(user, level).values_list("pk", "level"))
            assert annotated == {pk: expected[pk] for pk in visible}
            # One infrastructure's list: the membership shortcut (administrator, or a
            # default level that high) and the door's filter give the same modules.
            for infrastructure in (world.acme, world.emca):
                within = set(
                    door.visible_modules_in(user, infrastructure, level).values_list(
                        "pk", flat=True
                    )
                )
                mine = set(
                    Module.objects.filter(infrastructure=infrastructure).values_list(
                        "pk", flat=True
                    )
                )
                assert within == visible & mine, (user.username, level, infrastructure.name)


def test_the_tabs_rows_carry_the_door_level_and_its_parts(world):
    modules = _modules(world.acme, 60, "M")
    make_team(world.acme, "Readers", Level.REFERENCE, members=[world.contractor],
              modules=modules[::2])  # fmt: skip
    make_grant(world.contractor, modules[1], Level.OPEN)
    make_grant(world.developer, modules[2], Level.PUBLISH)
    membership = Membership.objects.get(user=world.contractor, infrastructure=world.acme)
    rows = selectors.user_module_rows(membership, [m.pk for m in modules])
    assert {m.pk: m.level for m in rows} == {
        m.pk: door.effective_level(world.contractor, m) for m in modules
    }
    assert {m.pk: (m.team_name, m.grant_level) for m in rows[:3]} == {
        modules[0].pk: ("Readers", None),
        modules[1].pk: (None, int(Level.OPEN)),
        modules[2].pk: ("Readers", None),
    }
    for module in modules[:3]:
        keys = selectors.module_permission_keys(module).values_list("pk", flat=True)
        members = selectors.module_permission_rows(module, keys)
        assert {m.user_id: m.level for m in members} == {
            m.user_id: door.effective_level(m.user, module) for m in members
        }


def test_catalog_rows_give_the_door_level_and_none_to_an_inactive_user(world):
    modules = _modules(world.acme, 55, "C")  # past one batch of the statement
    make_grant(world.contractor, modules[0], Level.PUBLISH)
    pks = [m.pk for m in modules]
    rows = {m.pk: m for m in selectors.catalog_rows(world.contractor, pks)}
    assert {pk: m.level for pk, m in rows.items()} == {
        m.pk: door.effective_level(world.contractor, m) for m in modules
    }
    assert {m.infrastructure.name for m in rows.values()} == {world.acme.name}
    # Values converted as a queryset converts them (SQLite gives a UUID and a datetime as text).
    fresh = Module.objects.get(pk=modules[0].pk)
    assert (rows[fresh.pk].key, rows[fresh.pk].created_at) == (fresh.key, fresh.created_at)
    world.contractor.is_active = False
    assert {m.level for m in selectors.catalog_rows(world.contractor, pks)} == {Level.NONE}
