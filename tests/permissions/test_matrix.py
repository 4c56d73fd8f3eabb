"""The permission matrix: every persona × every page and endpoint, with the exact status.

404 when the persona cannot see the thing, 403 when they can but may not act, 2xx/302
when allowed. The contractor holds `reference` on the API module (granted by the ACME
administrator), so "sees it but may not" is covered for them too.
"""

import pytest
from django.urls import reverse

from core.levels import Level
from permissions import services
from permissions.models import Team
from tests import factories

pytestmark = pytest.mark.django_db

PERSONAS = [
    "anonymous",
    "support",
    "acme_admin",
    "developer",
    "contractor",
    "emca_admin",
    "outsider",
]


@pytest.fixture
def setting(world, publish):
    """ACME's OrdersAPI published for real (v1, with source), a team, the contractor's grant."""
    result = publish(
        world.developer, world.acme_dev_env, manifest=factories.manifest(name="OrdersAPI")
    )
    module = result.module
    services.grant_set(
        actor=world.acme_admin, module=module, user=world.contractor, level=Level.REFERENCE
    )
    team = Team.objects.create(infrastructure=world.acme, name="Contractors", level=Level.REFERENCE)
    return {"module": module, "team": team}


def _row(*statuses) -> dict:
    return dict(zip(PERSONAS, statuses, strict=True))


LOGIN = 302  # pages send the anonymous to sign in
API_ANON = 401  # token authentication comes first: an anonymous API call is 401 not_authenticated

# (name, method, url builder, body, expected per persona)
PAGES = [
    (
        "catalog",
        "get",
        lambda w, s: reverse("catalog"),
        None,
        _row(LOGIN, 200, 200, 200, 200, 200, 200),
    ),
    (
        "infrastructure users",
        "get",
        lambda w, s: reverse("infrastructure_users", args=[w.acme.pk]),
        None,
        _row(LOGIN, 200, 200, 403, 403, 404, 404),
    ),
    (
        "add a member",
        "post",
        lambda w, s: reverse("infrastructure_users", args=[w.acme.pk]),
        {"username": "outsider", "role": "member", "default_level": 0},
        _row(LOGIN, 302, 302, 403, 403, 404, 404),
    ),
    (
        "contractor's Modules tab",
        "get",
        lambda w, s: reverse("user_modules", args=[w.acme.pk, w.contractor.pk]),
        None,
        _row(LOGIN, 403, 200, 403, 403, 404, 404),
    ),
    (
        "bulk change on the Modules tab",
        "post",
        lambda w, s: reverse("user_modules", args=[w.acme.pk, w.contractor.pk]),
        lambda w, s: {"modules": [s["module"].pk], "level": "open"},
        _row(LOGIN, 403, 302, 403, 403, 404, 404),
    ),
    (
        "module Permissions tab",
        "get",
        lambda w, s: reverse("module_permissions", args=[s["module"].pk]),
        None,
        _row(LOGIN, 404, 200, 403, 403, 404, 404),
    ),
    (
        "grant on the Permissions tab",
        "post",
        lambda w, s: reverse("module_permissions", args=[s["module"].pk]),
        {"user": "contractor", "level": "open"},
        _row(LOGIN, 404, 302, 403, 403, 404, 404),
    ),
    (
        "explain the contractor's level",
        "get",
        lambda w, s: reverse("explain", args=[s["module"].pk, w.contractor.pk]),
        None,
        _row(LOGIN, 404, 200, 403, 200, 404, 404),
    ),
    (
        "teams",
        "get",
        lambda w, s: reverse("teams", args=[w.acme.pk]),
        None,
        _row(LOGIN, 403, 200, 403, 403, 404, 404),
    ),
    (
        "create a team",
        "post",
        lambda w, s: reverse("teams", args=[w.acme.pk]),
        {"name": "New", "level": "open"},
        _row(LOGIN, 403, 302, 403, 403, 404, 404),
    ),
    (
        "team detail",
        "get",
        lambda w, s: reverse("team", args=[w.acme.pk, s["team"].pk]),
        None,
        _row(LOGIN, 403, 200, 403, 403, 404, 404),
    ),
    (
        "edit a team",
        "post",
        lambda w, s: reverse("team", args=[w.acme.pk, s["team"].pk]),
        {"name": "Contractors", "level": "open"},
        _row(LOGIN, 403, 302, 403, 403, 404, 404),
    ),
    # Pages of the modules app, through the same door.
    (
        "module page",
        "get",
        lambda w, s: reverse("module", args=[s["module"].pk]),
        None,
        _row(LOGIN, 404, 200, 200, 200, 404, 404),
    ),
    (
        "module source",
        "get",
        lambda w, s: reverse("module_source", args=[s["module"].pk, 1]),
        None,
        _row(LOGIN, 404, 200, 200, 403, 404, 404),
    ),
    (
        "infrastructure page",
        "get",
        lambda w, s: reverse("infrastructure", args=[w.acme.pk]),
        None,
        _row(LOGIN, 200, 200, 200, 200, 404, 404),
    ),
    (
        "environment page",
        "get",
        lambda w, s: reverse("environment", args=[w.acme_dev_env.pk]),
        None,
        _row(LOGIN, 200, 200, 200, 200, 404, 404),
    ),
    (
        "environment protection switch",
        "post",
        lambda w, s: reverse("environment_protection", args=[w.acme_prod_env.pk]),
        {"protected": "1"},
        _row(LOGIN, 302, 302, 403, 403, 404, 404),
    ),
    (
        "deployer search",
        "get",
        lambda w, s: reverse("deployer_search", args=[w.acme_prod_env.pk]),
        None,
        _row(LOGIN, 403, 200, 403, 403, 404, 404),
    ),
    (
        "add a deployer",
        "post",
        lambda w, s: reverse("deployer_add", args=[w.acme_prod_env.pk]),
        {"username": "developer"},
        _row(LOGIN, 403, 302, 403, 403, 404, 404),
    ),
    (
        "remove a deployer",
        "post",
        lambda w, s: reverse("deployer_remove", args=[w.acme_prod_env.pk, "developer"]),
        {},
        _row(LOGIN, 403, 302, 403, 403, 404, 404),
    ),
    (
        "copy elements page",
        "get",
        lambda w, s: reverse("ipp:copy", args=[s["module"].pk]),
        None,
        _row(LOGIN, 404, 200, 200, 403, 404, 404),
    ),
    (
        "module export",
        "get",
        lambda w, s: reverse("module_export", args=[s["module"].pk, 1]),
        None,
        _row(LOGIN, 404, 200, 200, 403, 404, 404),
    ),
]

API = [
    (
        "GET permissions",
        "get",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}/permissions",
        None,
        _row(API_ANON, 404, 200, 403, 403, 404, 404),
    ),
    (
        "PUT a grant",
        "put",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}/permissions/contractor",
        {"level": "open"},
        _row(API_ANON, 404, 200, 403, 403, 404, 404),
    ),
    (
        "DELETE a grant",
        "delete",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}/permissions/contractor",
        None,
        _row(API_ANON, 404, 204, 403, 403, 404, 404),
    ),
    # Endpoints of the modules app, through the same door.
    (
        "GET an infrastructure",
        "get",
        lambda w, s: f"/api/v1/infrastructures/{w.acme.pk}",
        None,
        _row(API_ANON, 200, 200, 200, 200, 404, 404),
    ),
    (
        "GET modules",
        "get",
        lambda w, s: "/api/v1/modules",
        None,
        _row(API_ANON, 200, 200, 200, 200, 200, 200),
    ),
    (
        "GET a module",
        "get",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}",
        None,
        _row(API_ANON, 404, 200, 200, 200, 404, 404),
    ),
    (
        "GET source files",
        "get",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}/versions/1/source",
        None,
        _row(API_ANON, 404, 200, 200, 403, 404, 404),
    ),
    (
        "GET a source file",
        "get",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}/versions/1/source/Logic/GetCustomer.oml",
        None,
        _row(API_ANON, 404, 200, 200, 403, 404, 404),
    ),
    (
        "GET the package",
        "get",
        lambda w, s: f"/api/v1/modules/{s['module'].pk}/versions/1/package",
        None,
        _row(API_ANON, 404, 200, 200, 403, 404, 404),
    ),
]


def _call(client, kind, method, target, data):
    if kind == "api" and data is not None:
        return getattr(client, method)(target, data, content_type="application/json")
    if data is not None:
        return getattr(client, method)(target, data)
    return getattr(client, method)(target)


@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_matrix(client, world, setting, persona):
    """Each row of the tables for one persona; the report lists every cell that differs."""
    if persona != "anonymous":
        client.force_login(world.personas()[persona])
    wrong = []
    for kind, table in (("page", PAGES), ("api", API)):
        for name, method, url, body, expected in table:
            data = body(world, setting) if callable(body) else body
            response = _call(client, kind, method, url(world, setting), data)
            if response.status_code != expected[persona]:
                wrong.append(f"{name}: {response.status_code}, expected {expected[persona]}")
            elif kind == "api" and response.status_code >= 400:
                assert set(response.json()) == {"error", "detail"}, name
    assert wrong == [], f"{persona}: " + "; ".join(wrong)
