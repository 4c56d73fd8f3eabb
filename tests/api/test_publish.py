"""POST /environments/{id}/publish and POST /deployments over real HTTP."""

import os
import uuid

import pytest
from django.conf import settings

from audit.models import AuditEntry
from registry.models import Deployment, Module, ModuleVersion
from registry.packages import build_package
from tests import factories
from tests.api.helpers import publish, published

pytestmark = pytest.mark.django_db(transaction=True)


def blob_files() -> list:
    return [p for p in settings.IPP_BLOB_DIR.rglob("*") if p.is_file()]


def test_a_developer_publishes_a_new_module(api, world):
    man = factories.manifest(name="CustomerCore")
    reply = publish(api("developer"), world.acme_dev_env, man)
    assert reply.status == 201
    body = reply.json()
    assert set(body) == {"module", "version", "deployment"}
    assert body["module"]["key"] == man["key"]
    assert body["module"]["name"] == "CustomerCore"
    assert body["module"]["infrastructure"] == world.acme.pk
    assert set(body["version"]) == {"id", "number", "digest", "marked", "mark"}
    assert body["version"]["number"] == 1
    assert len(body["version"]["digest"]) == 64
    assert body["version"]["marked"] is (body["version"]["mark"] is not None)
    assert Deployment.objects.get(pk=body["deployment"]["id"]).environment == world.acme_dev_env

    # the creator gets publish on the module, and sees it deployed in the environment
    module = api("developer").get(f"modules/{body['module']['id']}").json()
    assert module["level"] == "publish"
    env = api("developer").get(f"environments/{world.acme_dev_env.pk}/deployments").json()
    assert [d["module"]["name"] for d in env["results"]] == ["CustomerCore"]
    assert env["results"][0]["version"]["number"] == 1
    # the contractor (no level) sees the environment but not what runs in it
    hidden = api("contractor").get(f"environments/{world.acme_dev_env.pk}/deployments")
    assert hidden.status == 200 and hidden.json()["results"] == []


@pytest.mark.parametrize(
    "persona, status, error",
    [
        ("acme_admin", 201, None),
        ("developer", 201, None),
        ("contractor", 403, "permission_denied"),  # member without create_modules
        ("support", 403, "permission_denied"),  # sees the environment, is not a member
        ("emca_admin", 404, "not_found"),
        ("outsider", 404, "not_found"),
    ],
)
def test_who_may_publish_a_new_module(api, world, persona, status, error):
    reply = publish(api(persona), world.acme_dev_env)
    assert reply.status == status
    if error:
        assert reply.json()["error"] == error
        assert Module.objects.count() == 0


def test_a_new_version_of_a_known_module_needs_publish_on_it(api, world):
    man = factories.manifest()
    published(api("acme_admin"), world.acme_dev_env, man)
    # developer has open on ACME's modules: may read them, not publish them
    reply = publish(api("developer"), world.acme_dev_env, man, {"Logic/New.oml": b"v2"})
    assert reply.status == 403
    assert reply.json()["error"] == "permission_denied"
    assert ModuleVersion.objects.count() == 1


def test_an_identical_republish_stores_nothing_new(api, world):
    client = api("acme_admin")
    man = factories.manifest()
    first = published(client, world.acme_dev_env, man)
    blobs = blob_files()

    again = publish(client, world.acme_dev_env, man)
    assert again.status == 200
    assert again.json()["version"] == first["version"]
    assert ModuleVersion.objects.count() == 1
    assert blob_files() == blobs

    changed = publish(client, world.acme_dev_env, man, {"Logic/GetCustomer.oml": b"return 43\n"})
    assert changed.status == 201
    assert changed.json()["version"]["number"] == 2
    assert changed.json()["module"]["id"] == first["module"]["id"]


@pytest.mark.parametrize(
    "package, rule",
    [
        (b"this is not a zip file", "zip"),
        (build_package(None, {"a.txt": b"x"}), "manifest"),
        (build_package(b"{not json", {"a.txt": b"x"}), "manifest"),
        (
            build_package(
                factories.manifest(exposes=[{"name": "X", "kind": "widget", "signature": ""}]),
                {"a.txt": b"x"},
            ),
            "kind",
        ),
        (build_package(factories.manifest(), {}), "source"),
        (build_package(factories.manifest(), {"../evil.txt": b"x"}), ".."),
    ],
)
def test_an_invalid_package_is_refused_and_changes_nothing(api, world, package, rule):
    audit_before = AuditEntry.objects.count()
    reply = api("acme_admin").upload(f"environments/{world.acme_dev_env.pk}/publish", package)
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_package"
    assert rule in reply.json()["detail"].lower()
    assert Module.objects.count() == 0 and ModuleVersion.objects.count() == 0
    assert blob_files() == []
    assert AuditEntry.objects.count() == audit_before


def test_a_publish_without_a_package_is_an_invalid_package(api, world):
    reply = api("acme_admin").request(
        "POST", f"environments/{world.acme_dev_env.pk}/publish", fields={"note": "no file"}
    )
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_package"
    assert "package" in reply.json()["detail"]


def test_a_package_larger_than_the_memory_limit_publishes_and_reads_back(api, world):
    big = os.urandom(3 * 1024 * 1024)  # incompressible: the upload goes to a temporary file
    body = published(api("acme_admin"), world.acme_dev_env, files={"Resources/blob.bin": big})
    module, number = body["module"]["id"], body["version"]["number"]
    reply = api("acme_admin").get(f"modules/{module}/versions/{number}/source/Resources/blob.bin")
    assert reply.status == 200
    assert reply.body == big


def test_a_broken_reference_is_refused_with_409(api, world):
    client = api("acme_admin")
    core = factories.manifest(name="CustomerCore")
    published(client, world.acme_dev_env, core)
    uses_missing = factories.manifest(
        name="Portal",
        references=[{"module": core["key"], "elements": ["GetCustomer", "DeleteAll"]}],
    )
    reply = publish(client, world.acme_dev_env, uses_missing)
    assert reply.status == 409
    assert reply.json()["error"] == "broken_reference"
    assert "DeleteAll" in reply.json()["detail"]
    assert not Module.objects.filter(name="Portal").exists()

    # CustomerCore is not deployed in Production: any reference to it is broken there
    uses_ok = factories.manifest(
        name="Portal", references=[{"module": core["key"], "elements": ["GetCustomer"]}]
    )
    there = publish(client, world.acme_prod_env, uses_ok)
    assert there.status == 409
    assert "not deployed" in there.json()["detail"]

    here = publish(client, world.acme_dev_env, uses_ok)
    assert here.status == 201


def test_referencing_an_unknown_module_is_a_broken_reference(api, world):
    man = factories.manifest(references=[{"module": str(uuid.uuid4()), "elements": ["X"]}])
    reply = publish(api("acme_admin"), world.acme_dev_env, man)
    assert reply.status == 409
    assert reply.json()["error"] == "broken_reference"


# --- POST /deployments -----------------------------------------------------------------


@pytest.mark.parametrize(
    "persona, status",
    [
        ("acme_admin", 201),
        ("developer", 403),  # open, not publish
        ("contractor", 404),  # no level on the module
        ("support", 404),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_who_may_deploy_a_version(api, world, persona, status):
    body = published(api("acme_admin"), world.acme_dev_env)
    version_id = body["version"]["id"]
    reply = api(persona).post(
        "deployments", {"version": version_id, "environment": world.acme_prod_env.pk}
    )
    assert reply.status == status
    if status == 201:
        assert reply.json() == {
            "id": reply.json()["id"],
            "module": body["module"]["id"],
            "version": version_id,
            "environment": world.acme_prod_env.pk,
        }
        prod = api(persona).get(f"environments/{world.acme_prod_env.pk}/deployments").json()
        assert [d["version"]["id"] for d in prod["results"]] == [version_id]
        assert AuditEntry.objects.filter(action="module.deployed").count() == 1
    else:
        assert not Deployment.objects.filter(environment=world.acme_prod_env).exists()


def test_redeploying_an_older_version_makes_it_current(api, world):
    client = api("acme_admin")
    man = factories.manifest()
    v1 = published(client, world.acme_dev_env, man)
    published(client, world.acme_dev_env, man, {"Logic/GetCustomer.oml": b"v2"})
    reply = client.post(
        "deployments", {"version": v1["version"]["id"], "environment": world.acme_dev_env.pk}
    )
    assert reply.status == 201
    dev = client.get(f"environments/{world.acme_dev_env.pk}/deployments").json()
    assert [d["version"]["number"] for d in dev["results"]] == [1]
    detail = client.get(f"modules/{v1['module']['id']}").json()
    assert [d["version"] for d in detail["deployments"]] == [1]


def test_deploying_to_an_environment_you_cannot_see_is_404(api, world):
    body = published(api("acme_admin"), world.acme_dev_env)
    reply = api("acme_admin").post(
        "deployments", {"version": body["version"]["id"], "environment": world.emca_prod_env.pk}
    )
    assert reply.status == 404


@pytest.mark.parametrize("body", [{}, {"version": "x", "environment": 1}, {"version": 1}])
def test_a_malformed_deployment_is_an_invalid_request(api, body):
    reply = api("acme_admin").post("deployments", body)
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"


def test_deploying_an_unknown_version_is_404(api, world):
    reply = api("acme_admin").post(
        "deployments", {"version": 999999, "environment": world.acme_prod_env.pk}
    )
    assert reply.status == 404


@pytest.mark.parametrize("size_mb", [1.01, 1.2, 3])  # 1.01: refused by the package check
def test_a_package_over_the_size_limit_is_refused_with_413(api, world, settings, size_mb):
    settings.IPP_MAX_PACKAGE_MB = 1
    package = build_package(
        factories.manifest(), {"big.bin": os.urandom(int(size_mb * 1024 * 1024))}
    )
    reply = api("acme_admin").upload(f"environments/{world.acme_dev_env.pk}/publish", package)
    assert reply.status == 413
    assert reply.json()["error"] == "invalid_package"
    assert "IPP_MAX_PACKAGE_MB" in reply.json()["detail"]
    assert Module.objects.count() == 0
