"""The seeds' partner → client story: ACME's module moves to EMCA with ACME's consent."""

import io
import json
from urllib.parse import urlsplit

import pytest

from audit.models import AuditEntry
from core.errors import InvalidIntellectualProperty
from ipp.sealing import build_sealed_package
from portal.models import TransferEvent, TransferRequest
from portal.services import transfer_approve, transfer_package, transfer_request
from publishing.services import module_publish
from registry.models import Module, ModuleVersion
from registry.selectors import open_version_source
from tests import factories
from tests.portal.conftest import as_file, download


def test_acme_version_is_marked_for_acme_before_any_transfer(world, customer_core):
    assert customer_core.mark["activation_code"] == world.acme.activation_code
    assert customer_core.mark["epoch"] == 1


def test_developer_request_waits_for_acme_consent(world, pending):
    assert pending.status == TransferRequest.Status.PENDING
    assert pending.source == world.acme
    assert pending.destination == world.emca
    assert pending.items.get().new_mark is None
    assert list(pending.events.values_list("kind", flat=True)) == ["requested"]
    source, destination = (
        AuditEntry.objects.filter(action="transfer.requested", log=str(infrastructure.pk)).get()
        for infrastructure in (world.acme, world.emca)
    )
    for entry in (source, destination):
        assert (entry.infrastructure, entry.also) == (world.acme, world.emca)
        assert entry.details["destination"] == "EMCA"
    # One event, two logs: the same signed content but for where it sits.
    same = [json.loads(bytes(e.leaf)) for e in (source, destination)]
    for document in same:
        del document["log"], document["index"]
    assert same[0] == same[1]


def test_acme_admin_approval_issues_a_mark_for_emca_with_the_next_epoch(
    world, pending, customer_core
):
    approved = transfer_approve(user=world.acme_admin, transfer=pending)

    item = approved.items.get()
    assert approved.status == "approved"
    assert approved.decided_by == world.acme_admin
    assert item.new_mark["activation_code"] == world.emca.activation_code
    assert item.new_mark["epoch"] == 2
    assert item.new_mark["digest"] == customer_core.digest
    assert list(approved.events.values_list("kind", flat=True)) == [
        "requested",
        "approved",
        "packages_issued",
    ]
    approvals = AuditEntry.objects.filter(action="transfer.approved", infrastructure=world.acme)
    assert sorted(approvals.values_list("log_id", flat=True)) == sorted(
        [str(world.acme.pk), str(world.emca.pk)]
    )


def test_emca_admin_publishes_the_transferred_package_in_emca_development(
    world, pending, customer_core
):
    transfer_approve(user=world.acme_admin, transfer=pending)
    data = download(
        transfer_package(user=world.emca_admin, transfer=pending, module=customer_core.module_id)
    )

    result = module_publish(
        user=world.emca_admin, environment=world.emca_dev_env, upload=as_file(data)
    )

    assert result.module.infrastructure == world.emca
    assert result.module.key == customer_core.module.key
    assert result.version.marked_code == world.emca.activation_code
    assert result.version.mark["epoch"] == 2
    customer_core.refresh_from_db()
    assert customer_core.marked_code == world.acme.activation_code
    assert customer_core.mark["epoch"] == 1
    assert pending.events.filter(kind=TransferEvent.Kind.DOWNLOADED).count() == 1


def test_the_transferred_package_is_still_refused_in_a_third_infrastructure(
    world, pending, customer_core
):
    other = factories.make_infrastructure("Globex")
    env = factories.make_environment(other, "Development")
    factories.make_member(other, world.emca_admin, role="administrator")
    transfer_approve(user=world.acme_admin, transfer=pending)
    data = download(
        transfer_package(user=world.emca_admin, transfer=pending, module=customer_core.module_id)
    )

    with pytest.raises(InvalidIntellectualProperty):
        module_publish(user=world.emca_admin, environment=env, upload=as_file(data))


def test_the_original_acme_package_is_refused_in_emca_without_a_transfer(world, customer_core):
    out = io.BytesIO()
    build_sealed_package(version=customer_core, reader=open_version_source(customer_core), out=out)

    with pytest.raises(InvalidIntellectualProperty):
        module_publish(
            user=world.emca_admin, environment=world.emca_dev_env, upload=as_file(out.getvalue())
        )


def test_an_acme_administrators_own_request_is_approved_at_once(world, customer_core):
    transfer = transfer_request(
        user=world.acme_admin,
        modules=[customer_core.module_id],
        target_activation_code=world.emca.activation_code,
    )

    assert transfer.status == "approved"
    assert transfer.decided_by == world.acme_admin
    assert transfer.items.get().new_mark["activation_code"] == world.emca.activation_code
    in_acme = AuditEntry.objects.filter(log=str(world.acme.pk)).order_by("index")
    assert [e.action for e in in_acme][-2:] == [
        "transfer.requested",
        "transfer.approved",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_story_over_the_api_ends_with_emca_publishing_the_module(world, customer_core, api):
    developer, acme_admin, emca_admin = api("developer"), api("acme_admin"), api("emca_admin")

    created = developer.post(
        "transfers",
        {
            "modules": [customer_core.module_id],
            "target_activation_code": world.emca.activation_code,
            "note": "for EMCA",
        },
    )
    assert created.status == 201, created.body
    assert created.json() == {"id": created.json()["id"], "status": "pending"}
    transfer_id = created.json()["id"]

    approved = acme_admin.post(f"transfers/{transfer_id}/approve")
    assert approved.status == 200, approved.body
    body = approved.json()
    assert body["status"] == "approved"
    assert [p["module"] for p in body["packages"]] == [customer_core.module_id]
    url = body["packages"][0]["url"]
    assert url.endswith(f"/api/v1/transfers/{transfer_id}/packages/{customer_core.module_id}")

    package = emca_admin.get(urlsplit(url).path)
    assert package.status == 200
    assert package.headers["Content-Type"] == "application/zip"

    published = emca_admin.upload(f"environments/{world.emca_dev_env.pk}/publish", package.body)
    assert published.status == 201, published.body
    version = published.json()["version"]
    assert version["marked"] is True
    assert version["mark"]["activation_code"] == world.emca.activation_code
    assert version["mark"]["epoch"] == 2
    assert ModuleVersion.objects.get(pk=customer_core.pk).marked_code == world.acme.activation_code
    assert Module.objects.filter(infrastructure=world.emca, key=customer_core.module.key).exists()

    detail = developer.get(f"transfers/{transfer_id}").json()
    assert [e["kind"] for e in detail["events"]] == [
        "requested",
        "approved",
        "packages_issued",
        "downloaded",
    ]
