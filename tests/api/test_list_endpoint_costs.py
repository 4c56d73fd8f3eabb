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

from ippsite.registry_ui.api.catalog import ModuleOut, _attach_exposes, module_rows_out
from ippsite.registry_ui.api.infrastructures import CurrentDeploymentOut, deployment_rows_out
from permissions import door
from registry.models import Deployment, ExposedElement, Module
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


def test_rows_built_directly_are_what_the_documented_serializers_give(world):
    grow_environment(world, 0, 5)
    Deployment.objects.filter(pk=Deployment.objects.first().pk).update(deployed_by=world.developer)
    deployments = list(
        Deployment.objects.select_related("module", "version", "deployed_by").order_by("id")
    )
    assert deployment_rows_out(deployments) == CurrentDeploymentOut(deployments, many=True).data
    ExposedElement.objects.create(
        version=deployments[0].version, name="Get", kind="server_action", signature="Get()"
    )
    modules = list(door.modules_for_user(world.developer).order_by("id"))
    for module in modules:
        module.latest_version_id = module.versions.values_list("id", flat=True).first()
    rows = _attach_exposes(modules)
    assert module_rows_out(rows) == ModuleOut(rows, many=True).data
