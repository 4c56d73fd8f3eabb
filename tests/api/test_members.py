"""Members come and go over the API (SPEC §3, §7): list, partial PATCH, DELETE, the
last-administrator guard and the offboarding story, with the persona matrix."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from core.levels import Level
from ippsite.models import ApiToken
from permissions.models import Deployer, ModuleUserObjectPermission, Team
from registry.models import Membership
from tests import factories
from tests.permissions.conftest import make_grant, make_module, make_team

pytestmark = pytest.mark.django_db(transaction=True)

# persona -> status for managing ACME's members (None: anonymous)
MATRIX = {
    "support": "ok",
    "acme_admin": "ok",
    "developer": 403,
    "contractor": 403,
    "emca_admin": 404,
    "outsider": 404,
    None: 401,
}


def _expected(persona, ok: int) -> int:
    outcome = MATRIX[persona]
    return ok if outcome == "ok" else outcome


@pytest.mark.parametrize("persona", list(MATRIX))
def test_who_lists_the_members(api, world, persona):
    reply = api(persona).get(f"infrastructures/{world.acme.pk}/members")
    assert reply.status == _expected(persona, 200), reply.body
    if reply.status == 200:
        body = reply.json()
        assert set(body) == {"count", "next", "previous", "results"}
        rows = {row["username"]: row for row in body["results"]}
        assert set(rows) == {"acme_admin", "developer", "contractor"}
        assert rows["developer"]["default_level"] == "open"
        assert rows["acme_admin"]["role"] == "administrator"
        assert rows["developer"]["create_modules"] is True
    else:
        assert set(reply.json()) == {"error", "detail"}


@pytest.mark.parametrize("persona", list(MATRIX))
def test_who_changes_a_member(api, world, persona):
    path = f"infrastructures/{world.acme.pk}/members/contractor"
    reply = api(persona).patch(path, {"default_level": "reference"})
    assert reply.status == _expected(persona, 200), reply.body
    level = Membership.objects.get(infrastructure=world.acme, user=world.contractor).default_level
    assert level == (Level.REFERENCE if reply.status == 200 else Level.NONE)


@pytest.mark.parametrize("persona", list(MATRIX))
def test_who_removes_a_member(api, world, persona):
    reply = api(persona).request("DELETE", f"infrastructures/{world.acme.pk}/members/contractor")
    assert reply.status == _expected(persona, 204), reply.body
    still = Membership.objects.filter(infrastructure=world.acme, user=world.contractor).exists()
    assert still is (reply.status != 204)


def test_patch_changes_only_the_fields_given(api, world):
    admin = api("acme_admin")
    path = f"infrastructures/{world.acme.pk}/members/developer"
    reply = admin.patch(path, {"create_modules": False})
    assert reply.status == 200
    assert reply.json() == {
        "username": "developer",
        "role": "member",
        "default_level": "open",
        "create_modules": False,
    }
    reply = admin.patch(path, {"role": "administrator"})
    assert reply.json()["default_level"] == "open" and reply.json()["create_modules"] is False
    assert admin.patch(path, {}).json()["role"] == "administrator"  # an empty body changes nothing
    entries = AuditEntry.objects.filter(action="membership.changed", details__user="developer")
    assert entries.count() == 2


@pytest.mark.parametrize(
    "body", [{"role": "owner"}, {"default_level": "admin"}, {"create_modules": "perhaps"}]
)
def test_patch_refuses_values_outside_the_enums(api, world, body):
    reply = api("acme_admin").patch(f"infrastructures/{world.acme.pk}/members/developer", body)
    assert reply.status == 400 and reply.json()["error"] == "invalid_request"


def test_patch_and_delete_of_a_non_member_answer_404(api, world):
    admin = api("acme_admin")
    assert admin.patch(f"infrastructures/{world.acme.pk}/members/emca_admin", {}).status == 404
    assert admin.patch(f"infrastructures/{world.acme.pk}/members/nobody", {}).status == 404
    reply = admin.request("DELETE", f"infrastructures/{world.acme.pk}/members/outsider")
    assert reply.status == 404 and reply.json()["error"] == "not_found"


def test_post_keeps_the_fields_left_out_and_new_members_get_the_defaults(api, world):
    support = api("support")
    path = f"infrastructures/{world.acme.pk}/members"
    reply = support.post(path, {"username": "acme_admin", "default_level": "open"})
    assert reply.status == 200
    assert reply.json()["role"] == "administrator"  # was reset to member before
    assert reply.json()["default_level"] == "open"
    reply = support.post(path, {"username": "outsider"})
    assert reply.status == 201
    assert (reply.json()["role"], reply.json()["default_level"]) == ("member", "none")
    assert reply.json()["create_modules"] is False


def test_the_last_administrator_can_be_neither_demoted_nor_removed(api, world):
    support = api("support")
    member = f"infrastructures/{world.acme.pk}/members/acme_admin"
    reply = support.patch(member, {"role": "member"})
    assert reply.status == 409
    assert reply.json()["error"] == "last_administrator"
    reply = support.request("DELETE", member)
    assert reply.status == 409 and reply.json()["error"] == "last_administrator"
    reply = support.post(
        f"infrastructures/{world.acme.pk}/members", {"username": "acme_admin", "role": "member"}
    )
    assert reply.status == 409
    assert Membership.objects.get(user=world.acme_admin, infrastructure=world.acme).is_admin

    # With a second administrator, the first may step down (even themselves).
    assert support.patch(
        f"infrastructures/{world.acme.pk}/members/developer", {"role": "administrator"}
    ).json()["role"] == ("administrator")
    assert api("acme_admin").patch(member, {"role": "member"}).status == 200
    last = f"infrastructures/{world.acme.pk}/members/developer"
    assert api("developer").request("DELETE", last).json()["error"] == "last_administrator"


def test_offboarding_a_contractor_takes_everything_at_once_and_readding_brings_nothing_back(
    api, world
):
    orders = make_module(world.acme, "OrdersAPI")
    billing = make_module(world.acme, "Billing")
    make_grant(world.contractor, orders, Level.OPEN)
    make_team(
        world.acme, "Contractors", Level.REFERENCE, members=[world.contractor], modules=[billing]
    )
    membership = Membership.objects.get(user=world.contractor, infrastructure=world.acme)
    Deployer.objects.create(environment=world.acme_prod_env, membership=membership)
    ledger = make_module(world.emca, "Ledger")
    factories.make_member(world.emca, world.contractor)
    make_grant(world.contractor, ledger, Level.OPEN)  # another infrastructure: kept

    contractor = api("contractor")
    assert {m["name"] for m in contractor.get("modules").json()["results"]} == {
        "OrdersAPI",
        "Billing",
        "Ledger",
    }
    assert (
        api("acme_admin")
        .request("DELETE", f"infrastructures/{world.acme.pk}/members/contractor")
        .status
        == 204
    )

    # Their very next request sees none of it.
    assert [m["name"] for m in contractor.get("modules").json()["results"]] == ["Ledger"]
    assert contractor.get(f"modules/{orders.pk}").status == 404
    assert not ModuleUserObjectPermission.objects.filter(
        user=world.contractor, content_object__infrastructure=world.acme
    ).exists()
    assert ModuleUserObjectPermission.objects.filter(user=world.contractor).count() == 1
    assert not Team.objects.get(name="Contractors").members.exists()
    assert not Deployer.objects.exists()
    entry = AuditEntry.objects.get(action="membership.removed")
    assert entry.details["user"] == "contractor" and entry.details["teams"] == ["Contractors"]
    assert entry.details["grants"] == 1 and entry.log_id == str(world.acme.pk)

    # Re-adding them brings no old grant, team place or deployer back.
    reply = api("acme_admin").post(
        f"infrastructures/{world.acme.pk}/members", {"username": "contractor"}
    )
    assert reply.status == 201
    assert contractor.get("modules").json()["count"] == 1
    assert not Team.objects.get(name="Contractors").members.exists()


def test_the_members_list_costs_the_same_for_5_and_50_members(client, world):
    _row, token = ApiToken.issue(world.acme_admin)
    url = f"/api/v1/infrastructures/{world.acme.pk}/members?page_size=100"

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, HTTP_AUTHORIZATION=f"Token {token}")
        assert response.status_code == 200
        return len(captured), response.json()["count"]

    queries()  # the token's first use records last_used_at
    for n in range(2):
        factories.make_member(world.acme, factories.make_user(f"m{n:02d}"))
    few = queries()
    for n in range(2, 47):
        factories.make_member(world.acme, factories.make_user(f"m{n:02d}"))
    many = queries()
    assert (few[1], many[1]) == (5, 50)
    assert few[0] == many[0] <= 8
