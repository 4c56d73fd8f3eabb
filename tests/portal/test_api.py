"""The transfers API (SPEC §7) over real HTTP: shapes, errors and the permission matrix."""

import io
from urllib.parse import urlsplit

import pytest

from audit.models import AuditEntry
from ipp.sealing import build_sealed_package
from ipp.toggles import infrastructure_set_flags
from portal.models import TransferRequest
from portal.services import transfer_approve, transfer_request
from registry.selectors import open_version_source

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAS = ["support", "acme_admin", "developer", "contractor", "emca_admin", "outsider"]


def _pending(world, customer_core) -> TransferRequest:
    return transfer_request(
        user=world.developer,
        modules=[customer_core.module_id],
        target_activation_code=world.emca.activation_code,
    )


def _statuses(api, call) -> dict:
    return {persona: call(api(persona), persona) for persona in PERSONAS}


def test_reading_a_request_is_for_its_requester_admins_on_both_sides_and_support(
    world, customer_core, api
):
    transfer = _pending(world, customer_core)
    got = _statuses(api, lambda client, _p: client.get(f"transfers/{transfer.pk}").status)
    assert got == {
        "support": 200,
        "acme_admin": 200,
        "developer": 200,
        "contractor": 404,
        "emca_admin": 200,
        "outsider": 404,
    }


def test_listing_shows_each_persona_only_the_requests_they_may_see(world, customer_core, api):
    _pending(world, customer_core)
    got = _statuses(api, lambda client, _p: client.get("transfers").json()["count"])
    assert got == {
        "support": 1,
        "acme_admin": 1,
        "developer": 1,
        "contractor": 0,
        "emca_admin": 1,
        "outsider": 0,
    }


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_deciding_is_for_the_sources_administrators_only(world, customer_core, api, action):
    def call(client, _persona):
        transfer = _pending(world, customer_core)
        return client.post(f"transfers/{transfer.pk}/{action}").status

    assert _statuses(api, call) == {
        "support": 403,
        "acme_admin": 200,
        "developer": 403,
        "contractor": 404,
        "emca_admin": 403,
        "outsider": 404,
    }


def test_cancelling_is_for_the_requester_only(world, customer_core, api):
    def call(client, _persona):
        transfer = _pending(world, customer_core)
        return client.post(f"transfers/{transfer.pk}/cancel").status

    assert _statuses(api, call) == {
        "support": 403,
        "acme_admin": 403,
        "developer": 200,
        "contractor": 404,
        "emca_admin": 403,
        "outsider": 404,
    }


def test_downloading_is_for_the_requester_and_the_destinations_administrators(
    world, customer_core, api
):
    transfer = _pending(world, customer_core)
    transfer_approve(user=world.acme_admin, transfer=transfer)
    path = f"transfers/{transfer.pk}/packages/{customer_core.module_id}"
    assert _statuses(api, lambda client, _p: client.get(path).status) == {
        "support": 403,
        "acme_admin": 403,
        "developer": 200,
        "contractor": 404,
        "emca_admin": 200,
        "outsider": 404,
    }


def test_requesting_needs_publish_on_the_module(world, customer_core, api):
    def call(client, _persona):
        reply = client.post(
            "transfers",
            {
                "modules": [customer_core.module_id],
                "target_activation_code": world.emca.activation_code,
            },
        )
        return reply.status, reply.json().get("status")

    assert _statuses(api, call) == {
        "support": (404, None),
        "acme_admin": (201, "approved"),
        "developer": (201, "pending"),
        "contractor": (404, None),
        "emca_admin": (404, None),
        "outsider": (404, None),
    }


def test_anonymous_callers_are_turned_away_everywhere(world, customer_core, api):
    transfer = _pending(world, customer_core)
    anonymous = api()
    replies = [
        anonymous.get("transfers"),
        anonymous.post("transfers", {}),
        anonymous.get(f"transfers/{transfer.pk}"),
        anonymous.post(f"transfers/{transfer.pk}/approve"),
        anonymous.get(f"transfers/{transfer.pk}/packages/{customer_core.module_id}"),
    ]
    assert {r.status for r in replies} <= {401, 403}
    assert {r.error for r in replies} == {"not_authenticated"}


def test_an_admins_request_answers_approved_with_its_package_links(world, customer_core, api):
    reply = api("acme_admin").post(
        "transfers/",
        {
            "modules": [customer_core.module_id],
            "target_activation_code": world.emca.activation_code,
        },
    )
    assert reply.status == 201
    body = reply.json()
    assert body["status"] == "approved"
    assert urlsplit(body["packages"][0]["url"]).path == (
        f"/api/v1/transfers/{body['id']}/packages/{customer_core.module_id}"
    )


def test_an_unknown_code_is_a_400_that_names_it(world, customer_core, api):
    reply = api("developer").post(
        "transfers",
        {
            "modules": [customer_core.module_id],
            "target_activation_code": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE",
        },
    )
    assert reply.status == 400
    assert reply.json() == {
        "error": "invalid_request",
        "detail": "no infrastructure has activation code AAAAA-BBBBB-CCCCC-DDDDD-EEEEE",
    }


def test_a_body_without_modules_or_package_is_a_400(world, api):
    reply = api("developer").post(
        "transfers", {"target_activation_code": world.emca.activation_code}
    )
    assert (reply.status, reply.error) == (400, "invalid_request")


def test_a_blocked_portal_answers_403_ipp_portal_blocked_and_the_refusal_stays_recorded(
    world, customer_core, api
):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    reply = api("developer").post(
        "transfers",
        {
            "modules": [customer_core.module_id],
            "target_activation_code": world.emca.activation_code,
        },
    )
    assert (reply.status, reply.error) == (403, "ipp_portal_blocked")
    refusals = AuditEntry.objects.filter(action="transfer.refused", actor=world.developer)
    assert refusals.filter(log=str(world.acme.pk)).count() == 1
    assert not TransferRequest.objects.exists()


def test_approving_a_pending_request_once_the_portal_is_blocked_answers_403(
    world, customer_core, api
):
    transfer = _pending(world, customer_core)
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    reply = api("acme_admin").post(f"transfers/{transfer.pk}/approve/")
    assert (reply.status, reply.error) == (403, "ipp_portal_blocked")
    assert TransferRequest.objects.get(pk=transfer.pk).status == "pending"


def test_a_second_approval_answers_409(world, customer_core, api):
    transfer = _pending(world, customer_core)
    admin = api("acme_admin")
    assert admin.post(f"transfers/{transfer.pk}/approve").status == 200
    reply = admin.post(f"transfers/{transfer.pk}/approve")
    assert (reply.status, reply.error) == (409, "conflict")


def test_a_marked_package_can_be_sent_as_multipart(world, customer_core, api):
    out = io.BytesIO()
    build_sealed_package(version=customer_core, reader=open_version_source(customer_core), out=out)
    reply = api("developer").request(
        "POST",
        "transfers",
        fields={"target_activation_code": world.emca.activation_code, "note": "from a file"},
        files={"package": ("CustomerCore.zip", out.getvalue())},
    )
    assert reply.status == 201, reply.body
    detail = api("developer").get(f"transfers/{reply.json()['id']}").json()
    assert detail["note"] == "from a file"
    assert detail["items"][0]["from_package"] is True
    assert detail["items"][0]["module"] == customer_core.module_id


def test_the_detail_shows_items_timeline_and_package_links_only_to_those_entitled(
    world, customer_core, api
):
    transfer = _pending(world, customer_core)
    transfer_approve(user=world.acme_admin, transfer=transfer)
    mine = api("developer").get(f"transfers/{transfer.pk}").json()
    admins = api("acme_admin").get(f"transfers/{transfer.pk}").json()
    assert mine["status"] == "approved"
    assert mine["destination"]["activation_code"] == world.emca.activation_code
    assert mine["items"][0]["new_mark"]["epoch"] == 2
    assert mine["items"][0]["package_url"].endswith(f"/packages/{customer_core.module_id}")
    assert admins["items"][0]["package_url"] is None
    assert [e["kind"] for e in mine["events"]] == ["requested", "approved", "packages_issued"]


def test_the_schema_documents_the_transfer_endpoints(world, api):
    reply = api("developer").get("schema")
    assert reply.status == 200
    text = reply.body.decode()
    for path in [
        "/api/v1/transfers:",
        "/api/v1/transfers/{id}:",
        "/api/v1/transfers/{id}/approve:",
        "/api/v1/transfers/{id}/packages/{module}:",
    ]:
        assert path in text
