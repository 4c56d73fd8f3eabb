"""The permissions API over real HTTP (live server, token auth)."""

import pytest

from core.levels import Level
from permissions import door
from tests.permissions.conftest import make_module, make_team
from tests.permissions.http import Api

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_module(world):
    return make_module(world.acme, "OrdersAPI", exposes=("GetOrder",))


def test_administrator_grants_reference_over_the_api(live_server, world, api_module):
    admin = Api(live_server.url, "acme_admin")
    status, body = admin.call(
        "PUT", f"/modules/{api_module.pk}/permissions/contractor", {"level": "reference"}
    )
    assert (status, body) == (
        200,
        {"username": "contractor", "level": "reference", "effective_level": "reference"},
    )
    assert door.effective_level(world.contractor, api_module) == Level.REFERENCE


def test_the_path_with_a_trailing_slash_works_too(live_server, world, api_module):
    admin = Api(live_server.url, "acme_admin")
    status, body = admin.call(
        "PUT", f"/modules/{api_module.pk}/permissions/contractor/", {"level": "open"}
    )
    assert status == 200 and body["level"] == "open"
    status, body = admin.call("GET", f"/modules/{api_module.pk}/permissions/")
    assert status == 200


def test_delete_removes_the_grant(live_server, world, api_module):
    admin = Api(live_server.url, "acme_admin")
    admin.call("PUT", f"/modules/{api_module.pk}/permissions/developer", {"level": "publish"})
    status, body = admin.call("DELETE", f"/modules/{api_module.pk}/permissions/developer")
    assert (status, body) == (204, None)
    assert door.effective_level(world.developer, api_module) == Level.OPEN  # back to the default


def test_list_gives_every_member_their_level_and_sources(live_server, world, api_module):
    make_team(
        world.acme, "Contractors", Level.REFERENCE, members=[world.contractor], modules=[api_module]
    )
    admin = Api(live_server.url, "acme_admin")
    admin.call("PUT", f"/modules/{api_module.pk}/permissions/developer", {"level": "publish"})
    status, page = admin.call("GET", f"/modules/{api_module.pk}/permissions")
    assert status == 200
    assert (page["count"], page["next"], page["previous"]) == (3, None, None)
    body = page["results"]
    assert body == [
        {
            "username": "acme_admin",
            "level": "publish",
            "sources": [
                {"kind": "administrator", "level": "publish"},
                {"kind": "default", "level": "none"},
            ],
        },
        {
            "username": "contractor",
            "level": "reference",
            "sources": [
                {"kind": "default", "level": "none"},
                {"kind": "team", "level": "reference", "name": "Contractors"},
            ],
        },
        {
            "username": "developer",
            "level": "publish",
            "sources": [
                {"kind": "default", "level": "open"},
                {"kind": "grant", "level": "publish"},
            ],
        },
    ]


def test_nobody_can_raise_their_own_level_over_the_api(live_server, world, api_module):
    admin = Api(live_server.url, "acme_admin")
    status, body = admin.call(
        "PUT", f"/modules/{api_module.pk}/permissions/acme_admin", {"level": "publish"}
    )
    assert status == 403 and body["error"] == "permission_denied"


def test_a_non_member_gets_400_saying_to_add_them_first(live_server, world, api_module):
    admin = Api(live_server.url, "acme_admin")
    status, body = admin.call(
        "PUT", f"/modules/{api_module.pk}/permissions/outsider", {"level": "reference"}
    )
    assert status == 400
    assert body == {
        "error": "invalid_request",
        "detail": "outsider is not a member of ACME: add them as a member of ACME first.",
    }


def test_bad_level_and_unknown_user(live_server, world, api_module):
    admin = Api(live_server.url, "acme_admin")
    status, body = admin.call(
        "PUT", f"/modules/{api_module.pk}/permissions/contractor", {"level": "owner"}
    )
    assert status == 400 and body["error"] == "invalid_request" and "level" in body["detail"]
    status, body = admin.call(
        "PUT", f"/modules/{api_module.pk}/permissions/nobody", {"level": "open"}
    )
    assert status == 404 and body["error"] == "not_found"


def test_emca_administrator_cannot_grant_on_acme_modules(live_server, world, api_module):
    emca = Api(live_server.url, "emca_admin")
    status, body = emca.call(
        "PUT", f"/modules/{api_module.pk}/permissions/contractor", {"level": "open"}
    )
    assert status == 404 and body["error"] == "not_found"
    assert door.effective_level(world.contractor, api_module) == Level.NONE


def test_a_developer_who_sees_the_module_gets_403(live_server, world, api_module):
    developer = Api(live_server.url, "developer")
    status, body = developer.call(
        "PUT", f"/modules/{api_module.pk}/permissions/contractor", {"level": "open"}
    )
    assert status == 403 and body["error"] == "permission_denied"
    assert developer.call("GET", f"/modules/{api_module.pk}/permissions")[0] == 403


def test_a_module_id_beyond_any_row_is_404_not_an_error(live_server, world):
    admin = Api(live_server.url, "acme_admin")
    for pk in (2**63, 10**30):  # past bigint: no query may be sent with it
        status, body = admin.call("GET", f"/modules/{pk}/permissions")
        assert status == 404 and body["error"] == "not_found"
