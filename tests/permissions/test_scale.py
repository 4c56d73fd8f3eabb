"""At SPEC scale (10,000 modules, 1,000 users, 200,000 grants) the permission reads stay fast.

Opt-in (it builds the data set first): IPP_SCALE_TEST=1, best with DATABASE_URL set to
PostgreSQL. Prints each query's time and plan; see permissions/README.md.
"""

import os
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection

from core.levels import Level
from permissions import door, selectors
from permissions.models import ModuleUserObjectPermission, Team
from registry.models import Membership, Module

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db,
    pytest.mark.skipif(not os.environ.get("IPP_SCALE_TEST"), reason="set IPP_SCALE_TEST=1 to run"),
]
User = get_user_model()
MODULES, USERS, GRANTS_PER_USER = 10_000, 1_000, 200


def _timed(label, fn, budget_ms):
    start = time.perf_counter()
    result = fn()
    elapsed = (time.perf_counter() - start) * 1000
    print(f"{label}: {elapsed:.1f} ms")
    assert elapsed < budget_ms, f"{label} took {elapsed:.0f} ms (budget {budget_ms} ms)"
    return result


def test_permission_reads_at_scale(world):
    acme = world.acme
    Module.objects.bulk_create(
        (
            Module(infrastructure=acme, key=uuid.uuid4(), name=f"Module{i:05d}")
            for i in range(MODULES)
        ),
        batch_size=5000,
    )
    module_ids = list(Module.objects.filter(infrastructure=acme).values_list("pk", flat=True))
    users = User.objects.bulk_create(
        (User(username=f"user{i:04d}", password="!") for i in range(USERS)), batch_size=5000
    )
    users = list(User.objects.filter(username__startswith="user"))
    Membership.objects.bulk_create(Membership(infrastructure=acme, user=u) for u in users)
    permissions = list(
        Permission.objects.filter(content_type__app_label="modules", codename__endswith="_module")
    )
    grants = []
    for n, user in enumerate(users):
        for k in range(GRANTS_PER_USER):
            grants.append(
                ModuleUserObjectPermission(
                    user=user,
                    content_object_id=module_ids[(n * 37 + k * 53) % MODULES],
                    permission=permissions[k % 3],
                )
            )
    ModuleUserObjectPermission.objects.bulk_create(grants, batch_size=10_000, ignore_conflicts=True)
    team = Team.objects.create(infrastructure=acme, name="Big", level=Level.REFERENCE)
    team.members.set(users[:100])
    team.modules.set(module_ids[:2000])
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
    user = users[7]
    membership = Membership.objects.select_related("user", "infrastructure").get(
        user=user, infrastructure=acme
    )
    module = Module.objects.get(pk=module_ids[123])

    catalog = selectors.catalog_modules(user)
    count = _timed("catalog count", catalog.count, 3000)
    assert count >= GRANTS_PER_USER * 0.9
    _timed("catalog page of 50", lambda: list(catalog[:50]), 2000)
    _timed(
        "catalog search", lambda: list(selectors.catalog_modules(user, q="Module0012")[:50]), 1500
    )
    tab = selectors.user_modules(membership)
    _timed("modules tab count", tab.count, 3000)
    _timed("modules tab page of 50", lambda: list(tab[:50]), 1000)
    _timed(
        "modules tab level filter",
        lambda: list(selectors.user_modules(membership, level="open")[:50]),
        3000,
    )
    _timed("permissions tab (1,000 members)", lambda: selectors.module_permissions(module), 2000)
    _timed("effective level", lambda: door.effective_level(user, module), 200)
    _timed(
        "module_for_user",
        lambda: (
            door.module_for_user(user, module.pk, Level.NONE)
            if door.effective_level(user, module)
            else None
        ),
        200,
    )
    _timed("explain", lambda: door.explain_level(user, module), 300)
    if connection.vendor == "postgresql":
        sql, params = catalog[:50].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN ANALYZE " + sql, params)
            print("\n".join(row[0] for row in cursor.fetchall()))
