"""The catalog's cost does not grow with its rows (in-process requests, to count queries)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ippsite.models import ApiToken
from registry.models import ExposedElement, Module, ModuleVersion

pytestmark = pytest.mark.django_db


def _add_modules(infrastructure, count: int, start: int = 0) -> None:
    """Modules with two versions each; the latest exposes two elements (plain ORM rows)."""
    for n in range(start, start + count):
        module = Module.objects.create(
            infrastructure=infrastructure, key=uuid.uuid4(), name=f"Module{n:03}"
        )
        for number in (1, 2):
            version = ModuleVersion.objects.create(
                module=module,
                number=number,
                digest=f"{n:060}{number:04}",
                wrapped_key=b"k",
                master_key_id="k",
            )
            ExposedElement.objects.bulk_create(
                ExposedElement(version=version, name=f"V{number}E{i}", kind="entity")
                for i in range(2)
            )


def _catalog_queries(client, token: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/modules?page_size=100", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    return len(queries), response.json()


def test_the_catalog_costs_the_same_for_5_and_40_modules(client, world):
    _row, token = ApiToken.issue(world.developer)
    _catalog_queries(client, token)  # a token's first use records last_used_at (once an hour)
    _add_modules(world.acme, 5)
    few, body = _catalog_queries(client, token)
    assert body["count"] == 5
    assert all([e["name"] for e in row["exposes"]] == ["V2E0", "V2E1"] for row in body["results"])

    _add_modules(world.acme, 35, start=5)
    many, body = _catalog_queries(client, token)
    assert body["count"] == 40 and len(body["results"]) == 40
    assert all(len(row["exposes"]) == 2 for row in body["results"])
    assert many == few, (few, many)
    assert few <= 6  # auth, count, page, exposes (+ token bookkeeping)
