"""Who may call the ipp endpoints: each persona, the exact status."""

import pytest

from tests import factories

ELEMENT = [{"name": "GetCustomer", "kind": "server_action", "signature": "GetCustomer()"}]


@pytest.fixture
def acme_pair(world, publish):
    core = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="CustomerCore", exposes=ELEMENT),
        {"Logic/GetCustomer.oml": b"x"},
    )
    orders = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="Orders", exposes=[]),
        {"o.txt": b"o"},
    )
    return core.version, orders.version


@pytest.mark.parametrize(
    "persona,status",
    [
        ("support", 404),
        ("acme_admin", 201),
        ("developer", 201),
        ("contractor", 404),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_copy_endpoint_by_persona(world, api, acme_pair, persona, status):
    core, orders = acme_pair
    response = api(world.personas()[persona]).post(
        f"/api/v1/modules/{core.module.pk}/copy",
        {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk},
        format="json",
    )
    assert response.status_code == status, response.json()


@pytest.mark.parametrize(
    "persona,status,outcome",
    [
        ("support", 200, "not_found"),
        ("acme_admin", 200, "ok"),
        ("developer", 200, "ok"),
        ("contractor", 200, "not_found"),
        ("emca_admin", 404, None),
        ("outsider", 404, None),
    ],
)
def test_preflight_endpoint_by_persona(world, api, acme_pair, persona, status, outcome):
    core, _orders = acme_pair
    response = api(world.personas()[persona]).post(
        f"/api/v1/environments/{world.acme_prod_env.pk}/preflight/",
        {"versions": [core.pk]},
        format="json",
    )
    assert response.status_code == status
    if outcome:
        assert response.json()["results"][0]["outcome"] == outcome


def test_anonymous_callers_are_refused(world, acme_pair, client):
    core, orders = acme_pair
    assert client.post(
        f"/api/v1/modules/{core.module.pk}/copy", {}, content_type="application/json"
    ).status_code in (401, 403)
    assert client.post(
        f"/api/v1/environments/{world.acme_prod_env.pk}/preflight",
        {},
        content_type="application/json",
    ).status_code in (401, 403)


def test_both_endpoints_are_in_the_openapi_schema(world, api):
    schema = api(world.developer).get("/api/v1/schema").content.decode()
    assert "/api/v1/modules/{id}/copy" in schema
    assert "/api/v1/environments/{id}/preflight" in schema
