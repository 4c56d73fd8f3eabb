"""A page's cost does not grow with its rows: same number of queries for 5 and 60 modules."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, resolve, reverse
from django.urls.exceptions import Resolver404

from core.levels import Level
from tests.permissions.conftest import make_grant, make_module, make_team

pytestmark = pytest.mark.django_db


def _populate(world, count: int) -> None:
    team = make_team(world.acme, "Contractors", Level.REFERENCE, members=[world.contractor])
    for i in range(count):
        module = make_module(world.acme, f"Module{i:03d}", exposes=("A", "B", "C"))
        if i % 2:
            make_grant(world.contractor, module, Level.OPEN)
        else:
            team.modules.add(module)


def _queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries)


def _url(world, page: str) -> str:
    if page == "catalog":
        return reverse("catalog")
    if page == "user_modules":
        return reverse("user_modules", args=[world.acme.pk, world.contractor.pk])
    return reverse("module_permissions", args=[world.acme.modules.order_by("pk").first().pk])


def _add_modules(world, count: int) -> None:
    for i in range(count):
        make_grant(world.contractor, make_module(world.acme, f"More{i:03d}"), Level.OPEN)


@pytest.mark.parametrize("page", ["catalog", "user_modules", "module_permissions"])
def test_list_pages_cost_the_same_for_5_and_60_modules(
    client, world, page, django_assert_max_num_queries
):
    client.force_login(world.contractor if page == "catalog" else world.acme_admin)
    _populate(world, 5)
    with_5 = _queries(client, _url(world, page))
    _add_modules(world, 55)
    with_60 = _queries(client, _url(world, page))
    assert with_5 == with_60
    with django_assert_max_num_queries(12):
        client.get(_url(world, page))


def test_the_modules_api_list_costs_the_same_for_5_and_60_modules(client, world):
    try:
        resolve("/api/v1/modules")
        reverse("catalog")
    except (Resolver404, NoReverseMatch):
        pytest.skip("GET /api/v1/modules is not there yet")
    counts = []
    client.force_login(world.contractor)
    _populate(world, 5)
    counts.append(_queries(client, "/api/v1/modules"))
    _add_modules(world, 55)
    counts.append(_queries(client, "/api/v1/modules"))
    assert counts[0] == counts[1]
