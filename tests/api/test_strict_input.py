"""The API accepts what its schema says and nothing else (SPEC §10), as 400, never 500.

Each of these got through (or answered 500) before the API held bodies and queries to
their schema; the fuzz test finds them again if they come back.
"""

import json

import pytest

from registry.models import Environment


@pytest.mark.parametrize(
    "body, field",
    [
        ({"protected": 0}, "protected"),  # DRF would read 0 as false
        ({"name": 7}, "name"),  # ... and 7 as "7"
        ({"name": "Staging", "colour": "red"}, "colour"),  # an unknown key is not dropped
    ],
)
def test_a_body_off_its_schema_is_refused(api, world, body, field):
    reply = api("acme_admin").patch(f"environments/{world.acme_dev_env.pk}", body)
    assert reply.status == 400 and reply.error == "invalid_request"
    assert field in reply.json()["detail"]
    assert Environment.objects.get(pk=world.acme_dev_env.pk).name == "Development"


def test_an_integer_as_a_string_is_refused(api, world):
    body = {"infrastructure": str(world.acme.pk), "name": "Staging"}
    reply = api("acme_admin").post("environments", body)
    assert reply.status == 400 and "infrastructure" in reply.json()["detail"]


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_a_string_that_cannot_be_stored_is_400_not_500(api, world, text):
    # PostgreSQL text holds no NUL; a lone surrogate is no UTF-8 at all.
    raw = json.dumps({"infrastructure": world.acme.pk, "name": text}).encode()
    client = api("acme_admin")
    reply = client.request(
        "POST", "environments", headers={"Content-Type": "application/json"}, raw=raw
    )
    assert reply.status == 400 and reply.error == "invalid_request"
    assert not Environment.objects.filter(infrastructure=world.acme, name__startswith="a").exists()


def test_a_nul_in_a_path_is_404(api, world, publish):
    module = publish(world.developer, world.acme_dev_env).module
    reply = api("acme_admin").get(f"modules/{module.pk}/permissions/dev%00eloper")
    assert reply.status == 404 and reply.error == "not_found"
    assert api("acme_admin").get("audit/logs/%00/tree-head").status == 404


@pytest.mark.parametrize(
    "query",
    [
        "infrastructure=",  # DRF would read an empty value as "not given"
        "infrastructure=x",
        "infrastructure=0",
        "infrastructure=99999999999999999999",  # past 64 bits: 500 on SQLite before
        "page=0",
        "page=x",
        "page_size=0",
        "page_size=501",
        "page_size=x",
    ],
)
def test_a_bad_query_value_is_400(api, query):
    reply = api("acme_admin").get(f"environments?{query}")
    assert reply.status == 400 and reply.error == "invalid_request", reply.body


def test_a_page_past_the_last_is_404(api):
    assert api("acme_admin").get("environments?page=99").status == 404
    assert api("acme_admin").get("environments?page=1&page_size=1").status == 200


def test_a_taken_environment_name_is_a_conflict_on_change_too(api, world):
    reply = api("acme_admin").patch(
        f"environments/{world.acme_dev_env.pk}", {"name": world.acme_prod_env.name}
    )
    assert reply.status == 409 and reply.error == "name_taken"


def test_every_operation_documents_its_errors_with_the_error_body(api):
    schema = api("contractor").get("schema?format=json").json()
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = {p["in"] for p in operation.get("parameters", [])}
            label = f"{method.upper()} {path}"
            if operation.get("security") != [{}] and path != "/api/v1/auth/token":
                assert {"401", "403"} <= set(responses), label
            if "path" in where:
                assert "404" in responses, label
            if "requestBody" in operation or "query" in where:
                assert "400" in responses, label
            for status, response in responses.items():
                if status >= "400":
                    body = response["content"]["application/json"]["schema"]
                    assert body == error, label
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                name = body["schema"]["$ref"].rsplit("/", 1)[1]
                assert schema["components"]["schemas"][name]["additionalProperties"] is False


@pytest.mark.parametrize(
    "since", ["0044-01-21T15:52:01%2B23:05", "0001-01-01T00:00:00%2B01:00", "2026-01-01"]
)
def test_an_audit_bound_with_any_iso_offset_is_answered_not_500(api, since):
    # PostgreSQL refused the +23:05 offset (500); year 1 at +01:00 is before year 1 in UTC.
    reply = api("acme_admin").get(f"audit?since={since}")
    assert reply.status in (200, 400), reply.body
