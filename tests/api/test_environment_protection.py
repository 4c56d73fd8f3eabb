"""Protected environments and their deployers over the API (SPEC §3, §7): each persona ×
each new endpoint with the exact status, then what the answers say and record."""

import uuid

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from permissions.deployers import deployer_add
from permissions.models import Deployer
from registry.models import Environment
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


def _row(*statuses) -> dict:
    return dict(zip(PERSONAS, statuses, strict=True))


@pytest.fixture
def call(world):
    def _call(persona: str, method: str, path: str, body=None):
        client = APIClient()
        if persona != "anonymous":
            client.force_authenticate(world.personas()[persona])
        return getattr(client, method)(f"/api/v1/{path}", body, format="json")

    return _call


@pytest.fixture
def production(world):
    Environment.objects.filter(pk=world.acme_prod_env.pk).update(protected=True)
    world.acme_prod_env.refresh_from_db()
    return world.acme_prod_env


# (name, method, path builder, body, expected per persona)
MATRIX = [
    (
        "POST a protected environment",
        "post",
        lambda w: "environments",
        lambda w: {"infrastructure": w.acme.pk, "name": "Staging", "protected": True},
        _row(401, 201, 201, 403, 403, 404, 404),
    ),
    (
        "GET environments",
        "get",
        lambda w: "environments",
        None,
        _row(401, 200, 200, 200, 200, 200, 200),
    ),
    (
        "PATCH an environment",
        "patch",
        lambda w: f"environments/{w.acme_prod_env.pk}",
        lambda w: {"protected": False},
        _row(401, 200, 200, 403, 403, 404, 404),
    ),
    (
        "GET deployers",
        "get",
        lambda w: f"environments/{w.acme_prod_env.pk}/deployers",
        None,
        _row(401, 403, 200, 403, 403, 404, 404),
    ),
    (
        "PUT a deployer",
        "put",
        lambda w: f"environments/{w.acme_prod_env.pk}/deployers/contractor",
        None,
        _row(401, 403, 201, 403, 403, 404, 404),
    ),
    (
        "DELETE a deployer",
        "delete",
        lambda w: f"environments/{w.acme_prod_env.pk}/deployers/developer",
        None,
        _row(401, 403, 204, 403, 403, 404, 404),
    ),
]


@pytest.mark.parametrize("persona", PERSONAS)
def test_environment_protection_matrix(world, call, production, persona):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    wrong = []
    for name, method, path, body, expected in MATRIX:
        Environment.objects.filter(pk=production.pk).update(protected=True)
        reply = call(persona, method, path(world), body(world) if body else None)
        if reply.status_code != expected[persona]:
            wrong.append(f"{name}: {reply.status_code}, expected {expected[persona]}")
        elif reply.status_code >= 400:
            assert set(reply.json()) == {"error", "detail"}, name
    assert wrong == [], f"{persona}: " + "; ".join(wrong)


def test_environments_are_listed_with_their_protection(world, call, production):
    reply = call("developer", "get", f"environments?infrastructure={world.acme.pk}")
    rows = {row["name"]: row for row in reply.json()["results"]}
    assert set(reply.json()) == {"count", "next", "previous", "results"}
    assert set(rows["Production"]) == {"id", "name", "infrastructure", "serial", "protected"}
    assert rows["Production"]["protected"] is True
    assert rows["Development"]["protected"] is False


def test_creating_a_protected_environment_says_so_and_is_audited(world, call):
    reply = call(
        "acme_admin",
        "post",
        "environments",
        {"infrastructure": world.acme.pk, "name": "Live", "protected": True},
    )
    assert reply.status_code == 201 and reply.json()["protected"] is True
    entry = AuditEntry.objects.get(action="environment.created", details__name="Live")
    assert entry.details["protected"] is True


def test_patch_changes_only_what_is_given_and_is_audited(world, call, production):
    renamed = call("acme_admin", "patch", f"environments/{production.pk}", {"name": "Live"})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "Live" and renamed.json()["protected"] is True

    opened = call("support", "patch", f"environments/{production.pk}", {"protected": False})
    assert opened.json()["protected"] is False and opened.json()["name"] == "Live"
    changes = [
        e.details for e in AuditEntry.objects.filter(action="environment.changed").order_by("seq")
    ]
    assert changes == [
        {"environment": "Live", "from": {"name": "Production"}, "to": {"name": "Live"}},
        {"environment": "Live", "from": {"protected": True}, "to": {"protected": False}},
    ]


def test_patch_refuses_a_name_taken_in_the_infrastructure(world, call, production):
    reply = call("acme_admin", "patch", f"environments/{production.pk}", {"name": "Development"})
    assert reply.status_code == 409 and reply.json()["error"] == "name_taken"
    blank = call("acme_admin", "patch", f"environments/{production.pk}", {"name": "  "})
    assert blank.status_code == 400
    assert Environment.objects.get(pk=production.pk).name == "Production"


def test_deployers_are_listed_added_and_removed_by_the_administrator(world, call, production):
    path = f"environments/{production.pk}/deployers"
    added = call("acme_admin", "put", f"{path}/developer")
    assert added.status_code == 201
    assert added.json()["username"] == "developer" and added.json()["added_by"] == "acme_admin"
    assert call("acme_admin", "put", f"{path}/developer").status_code == 200

    listed = call("acme_admin", "get", path).json()
    assert listed["count"] == 1 and listed["results"][0]["username"] == "developer"

    assert call("acme_admin", "delete", f"{path}/developer").status_code == 204
    assert not Deployer.objects.exists()
    changes = AuditEntry.objects.filter(action="environment.changed").order_by("seq")
    assert [e.details["change"] for e in changes] == ["deployer_added", "deployer_removed"]


def test_a_deployer_must_be_a_member_and_exist(world, call, production):
    path = f"environments/{production.pk}/deployers"
    not_member = call("acme_admin", "put", f"{path}/emca_admin")
    assert not_member.status_code == 400 and "not a member of ACME" in not_member.json()["detail"]
    assert call("acme_admin", "put", f"{path}/nobody").status_code == 404
    assert not Deployer.objects.exists()


def test_a_developers_deploy_to_production_over_the_api_is_refused_until_named(
    world, call, production, publish
):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    version = publish(world.developer, world.acme_dev_env, manifest).version
    body = {"version": version.pk, "environment": production.pk}

    refused = call("developer", "post", "deployments", body)
    assert refused.status_code == 403
    assert refused.json()["error"] == "environment_protected"
    assert (
        AuditEntry.objects.filter(
            action="module.publish_refused", details__reason="environment_protected"
        ).count()
        == 1
    )

    call("acme_admin", "put", f"environments/{production.pk}/deployers/developer")
    assert call("developer", "post", "deployments", body).status_code == 201


def test_publishing_a_package_into_production_over_the_api_is_refused(world, production):
    client = APIClient()
    client.force_authenticate(world.developer)
    package = factories.package_file(factories.manifest(name="Fresh"))
    reply = client.post(
        f"/api/v1/environments/{production.pk}/publish", {"package": package}, format="multipart"
    )
    assert reply.status_code == 403 and reply.json()["error"] == "environment_protected"
