"""Tokens, the error shape, health and schema: what every API client meets first."""

import pytest

from tests import factories
from tests.api.client import Api

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_from_auth_token_signs_in_later_requests(live_server, world):
    anonymous = Api(live_server.url)
    reply = anonymous.post("auth/token", {"username": "developer", "password": factories.PASSWORD})
    assert reply.status == 200
    token = reply.json()["token"]

    signed_in = Api(live_server.url, token)
    modules = signed_in.get("modules")
    assert modules.status == 200
    assert modules.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_a_wrong_password_gets_no_token(live_server, world):
    reply = Api(live_server.url).post("auth/token", {"username": "developer", "password": "nope"})
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_credentials"
    assert "token" not in reply.json()


def test_a_missing_password_is_an_invalid_request(live_server, world):
    reply = Api(live_server.url).post("auth/token", {"username": "developer"})
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    assert "password" in reply.json()["detail"]


def test_without_a_token_the_api_refuses_in_the_error_shape(api):
    reply = api().get("modules")
    assert reply.status in (401, 403)
    assert reply.json()["error"] == "not_authenticated"
    assert set(reply.json()) == {"error", "detail"}


def test_a_bad_token_is_refused(live_server, world):
    reply = Api(live_server.url, "0" * 40).get("modules")
    assert reply.status in (401, 403)
    assert reply.json()["error"] == "not_authenticated"


def test_an_unknown_api_path_answers_404_json(api):
    reply = api("developer").get("no-such-thing")
    assert reply.status == 404
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.json() == {"error": "not_found", "detail": "Not found."}


def test_a_method_a_path_does_not_have_answers_405_in_the_error_shape(api):
    reply = api("support").request("DELETE", "infrastructures")
    assert reply.status == 405
    assert reply.json()["error"] == "method_not_allowed"
    assert "DELETE" in reply.json()["detail"]


def test_paths_work_with_and_without_a_trailing_slash(api, world):
    client = api("support")
    assert client.get("infrastructures").json() == client.get("infrastructures/").json()
    assert client.get(f"infrastructures/{world.acme.pk}/").status == 200


def test_healthz_answers_200(live_server):
    reply = Api(live_server.url).get("/healthz")
    assert reply.status == 200
    assert reply.json()["status"] == "ok"


def test_the_openapi_schema_is_for_signed_in_callers_only(live_server, api):
    anonymous = Api(live_server.url).get("schema?format=json")
    assert anonymous.status == 401 and anonymous.error == "not_authenticated"
    assert b"paths" not in anonymous.body
    assert api("contractor").get("schema?format=json").status == 200


def test_the_openapi_schema_describes_the_endpoints(api):
    reply = api("contractor").get("schema?format=json")
    assert reply.status == 200
    paths = reply.json()["paths"]
    for expected in (
        "/api/v1/auth/token",
        "/api/v1/users",
        "/api/v1/infrastructures",
        "/api/v1/infrastructures/{id}/members",
        "/api/v1/environments/{id}/publish",
        "/api/v1/deployments",
        "/api/v1/modules",
        "/api/v1/modules/{id}/versions/{number}/source/{path}",
        "/api/v1/modules/{id}/versions/{number}/package",
    ):
        assert expected in paths
    assert not any(p.endswith("/") for p in paths)  # slash variants are aliases, not operations
