"""Transfers in one step: POST /transfers/{id}/publish publishes the approved, re-marked
version straight into an environment of the destination (SPEC §7), for whoever may
publish there (§3, protection included). Nothing is downloaded or uploaded."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEntry
from portal.models import TransferEvent
from portal.services import transfer_approve, transfer_publish
from registry.models import Environment, ModuleVersion
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
def call(world):
    def _call(persona: str, transfer, body):
        client = APIClient()
        if persona != "anonymous":
            client.force_authenticate(world.personas()[persona])
        return client.post(f"/api/v1/transfers/{transfer.pk}/publish", body, format="json")

    return _call


@pytest.fixture
def approved(world, pending):
    return transfer_approve(user=world.acme_admin, transfer=pending)


def body(transfer, environment) -> dict:
    return {"module": transfer.items.get().module_id, "environment": environment.pk}


@pytest.mark.parametrize(
    "persona, status",
    list(zip(PERSONAS, [401, 403, 404, 404, 404, 201, 404], strict=True)),
)
def test_publish_at_the_destination_per_persona(world, call, approved, persona, status):
    reply = call(persona, approved, body(approved, world.emca_dev_env))
    assert reply.status_code == status, reply.json()
    if status >= 400:
        assert set(reply.json()) == {"error", "detail"}
    published = ModuleVersion.objects.filter(module__infrastructure=world.emca).exists()
    assert published is (status == 201)


def test_the_destination_admin_publishes_the_re_marked_version_in_one_step(
    world, call, approved, customer_core
):
    reply = call("emca_admin", approved, body(approved, world.emca_dev_env))

    assert reply.status_code == 201
    out = reply.json()
    assert set(out) == {"module", "version", "deployment"}
    assert out["module"]["infrastructure"] == world.emca.pk
    assert out["module"]["key"] == str(customer_core.module.key)
    version = ModuleVersion.objects.get(pk=out["version"]["id"])
    assert version.marked_code == world.emca.activation_code and version.mark["epoch"] == 2
    assert version.digest == customer_core.digest
    assert version.deployments.get().environment == world.emca_dev_env

    kinds = list(approved.events.values_list("kind", flat=True))
    assert kinds == ["requested", "approved", "packages_issued", "published"]
    assert "emca_admin published CustomerCore in EMCA / Development" in (
        approved.events.last().message
    )
    entry = AuditEntry.objects.get(action="transfer.published")
    assert entry.infrastructure == world.emca and entry.actor == world.emca_admin
    assert entry.subject_type == "transferrequest" and entry.subject_id == str(approved.pk)
    assert entry.details["source"] == "ACME" and entry.details["environment"] == "Development"
    published = AuditEntry.objects.get(action="module.published", infrastructure=world.emca)
    assert published.details["transfer"] == approved.pk


def test_publishing_again_elsewhere_reuses_the_version_and_answers_200(world, call, approved):
    assert call("emca_admin", approved, body(approved, world.emca_dev_env)).status_code == 201
    again = call("emca_admin", approved, body(approved, world.emca_prod_env))
    assert again.status_code == 200
    assert ModuleVersion.objects.filter(module__infrastructure=world.emca).count() == 1
    assert approved.events.filter(kind=TransferEvent.Kind.PUBLISHED).count() == 2
    assert approved.events.last().kind == "published"


def test_a_pending_request_cannot_be_published(world, call, pending):
    reply = call("emca_admin", pending, body(pending, world.emca_dev_env))
    assert reply.status_code == 409
    assert not ModuleVersion.objects.filter(module__infrastructure=world.emca).exists()


def test_only_environments_of_the_destination_and_modules_of_the_request(
    world, call, approved, billing
):
    outside = call("support", approved, body(approved, world.acme_dev_env))
    assert outside.status_code == 400 and "not an environment of EMCA" in outside.json()["detail"]
    stranger = call("emca_admin", approved, {"module": billing.module_id, "environment": 1})
    assert stranger.status_code == 404


def test_a_protected_destination_environment_needs_a_deployer(world, approved):
    factories.make_member(world.emca, world.developer, create_modules=True)
    Environment.objects.filter(pk=world.emca_prod_env.pk).update(protected=True)
    item = approved.items.get()

    reply = APIClient()
    reply.force_authenticate(world.developer)
    refused = reply.post(
        f"/api/v1/transfers/{approved.pk}/publish",
        {"module": item.module_id, "environment": world.emca_prod_env.pk},
        format="json",
    )

    assert refused.status_code == 403 and refused.json()["error"] == "environment_protected"
    entry = AuditEntry.objects.get(action="module.publish_refused")
    assert entry.infrastructure == world.emca
    assert entry.details["reason"] == "environment_protected"
    assert not approved.events.filter(kind="published").exists()
    result = transfer_publish(
        user=world.developer,
        transfer=approved,
        module=item.module_id,
        environment=world.emca_dev_env,
    )
    assert result.created_version and result.version.marked_code == world.emca.activation_code
