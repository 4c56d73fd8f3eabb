"""Every list endpoint costs the same at 5 and 60 rows, on its first page and its second.

The rows are grown in bulk (as tests/pages/test_list_costs.py does for the pages); the
query count of a page must not follow the rows or the page number, and each answer is
a page `{count, next, previous, results}`, never the whole list.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import Module
from tests.pages.test_list_costs import (
    grow_environment,
    grow_members_of_a_module,
)

pytestmark = pytest.mark.django_db

PAGE_SIZE = 50


@dataclass
class Case:
    name: str
    persona: str
    grow: Callable
    url: Callable  # (world) -> URL


def _granted(world):
    return f"/api/v1/modules/{Module.objects.get(name='Granted').pk}/permissions"


CASES = [
    Case("environment deployments", "developer", grow_environment,
         lambda w: f"/api/v1/environments/{w.acme_dev_env.pk}/deployments"),
    Case("environment detail", "developer", grow_environment,
         lambda w: f"/api/v1/environments/{w.acme_dev_env.pk}"),
    Case("module permissions", "acme_admin", grow_members_of_a_module, _granted),
    Case("modules", "developer", grow_environment, lambda w: "/api/v1/modules"),
]  # fmt: skip


def _get(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, (url, params, response.status_code)
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_list_endpoint_costs_the_same_at_5_and_60_rows_first_and_second_page(client, world, case):
    client.force_login(world.personas()[case.persona])
    case.grow(world, 0, 5)
    url = case.url(world)
    _get(client, url)  # a session's first request may write bookkeeping
    five, small = _get(client, url)
    case.grow(world, 5, 55)
    first, body = _get(client, url)
    second, deep = _get(client, url, {"page": 2})
    assert (five, first, second) == (five, five, five), case.name
    if "results" in small:
        assert body["count"] >= 60 and len(body["results"]) == PAGE_SIZE
        assert body["next"] and deep["previous"] is not None and len(deep["results"]) >= 10
    else:  # the detail links to its paginated list, it embeds none
        assert set(body) == {"id", "name", "infrastructure", "serial", "protected",
                             "deployments_url"}  # fmt: skip
