"""The seeds' story end to end through the JSON API: ACME protects, EMCA is refused."""

import io
import zipfile

from core.errors import IPP_MESSAGE
from ipp.marks import sign_mark
from registry.models import Module, ModuleVersion
from tests import factories
from tests.ipp.conftest import SECRET, publish_via_api, refusals, upload
from tests.ipp.helpers import sealed_bytes


def test_acme_protected_story_end_to_end(world, api, customer_core):
    manifest, files = customer_core
    acme_dev = api(world.developer)

    # Published in protected ACME: the version is marked with ACME's activation code.
    response = publish_via_api(
        acme_dev, world.acme_dev_env, factories.package_bytes(manifest, files)
    )
    assert response.status_code == 201, response.json()
    version = response.json()["version"]
    assert version["marked"] is True
    assert version["mark"]["activation_code"] == world.acme.activation_code
    assert version["mark"]["epoch"] == 1
    module_id = response.json()["module"]["id"]

    # Deploying Development -> Production inside ACME is allowed.
    response = acme_dev.post(
        "/api/v1/deployments",
        {"version": version["id"], "environment": world.acme_prod_env.pk},
        format="json",
    )
    assert response.status_code in (200, 201), response.json()

    # Deploying to EMCA is refused with exactly the seeds' message, and logged.
    factories.make_member(world.emca, world.developer, create_modules=True)
    response = acme_dev.post(
        "/api/v1/deployments",
        {"version": version["id"], "environment": world.emca_dev_env.pk},
        format="json",
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_intellectual_property",
        "detail": IPP_MESSAGE,
        "reason": "foreign_mark",
    }
    entry = refusals().last()
    assert entry.details["reason"] == "foreign_mark"
    assert entry.details["environment"] == "Development"
    assert entry.details["module"] == "CustomerCore"
    assert not Module.objects.filter(infrastructure=world.emca).exists()

    # Exported, the package is sealed; EMCA's administrator cannot publish it.
    exported = acme_dev.get(f"/api/v1/modules/{module_id}/versions/1/package")
    assert exported.status_code == 200
    sealed = b"".join(exported.streaming_content) if exported.streaming else exported.content
    names = zipfile.ZipFile(io.BytesIO(sealed)).namelist()
    assert "mark.json" in names and "sealed.bin" in names
    assert not any(n.startswith("src/") for n in names)
    assert SECRET not in sealed
    response = publish_via_api(api(world.emca_admin), world.emca_dev_env, sealed)
    assert response.status_code == 403
    assert response.json() == {
        "error": "invalid_intellectual_property",
        "detail": IPP_MESSAGE,
        "reason": "foreign_mark",
    }
    assert refusals().last().actor == world.emca_admin
    assert not Module.objects.filter(infrastructure=world.emca).exists()

    # The same sealed package is published again inside ACME: accepted, mark kept.
    response = publish_via_api(api(world.acme_admin), world.acme_prod_env, sealed)
    assert response.status_code in (200, 201), response.json()
    assert response.json()["version"]["number"] == 1
    assert response.json()["version"]["mark"] == version["mark"]

    # Support turns ACME's protection off: a NEW version is unmarked, but the key was
    # first published marked by ACME, so it still enters EMCA only by transfer (rule 9).
    assert (
        api(world.support)
        .patch(f"/api/v1/infrastructures/{world.acme.pk}", {"ipp_protected": False}, format="json")
        .status_code
        == 200
    )
    files2 = {**files, "Logic/GetCustomer.oml": SECRET + b"-- v2 --\n"}
    response = publish_via_api(
        acme_dev, world.acme_dev_env, factories.package_bytes(manifest, files2)
    )
    assert response.status_code == 201, response.json()
    v2 = response.json()["version"]
    assert v2["number"] == 2 and v2["marked"] is False and v2["mark"] is None
    response = acme_dev.post(
        "/api/v1/deployments",
        {"version": v2["id"], "environment": world.emca_dev_env.pk},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["reason"] == "key_marked_elsewhere"
    assert not ModuleVersion.objects.filter(module__infrastructure=world.emca).exists()

    # The old marked version keeps its mark and is still refused.
    response = acme_dev.post(
        "/api/v1/deployments",
        {"version": version["id"], "environment": world.emca_prod_env.pk},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["detail"] == IPP_MESSAGE
    assert ModuleVersion.objects.get(pk=version["id"]).marked_code == world.acme.activation_code


def test_unsealed_rebuild_of_a_marked_version_is_refused_in_another_infrastructure(
    world, api, customer_core
):
    manifest, files = customer_core
    data = factories.package_bytes(manifest, files)
    assert publish_via_api(api(world.developer), world.acme_dev_env, data).status_code == 201

    response = publish_via_api(api(world.emca_admin), world.emca_dev_env, data)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_intellectual_property"
    assert refusals().last().details["reason"] == "key_marked_elsewhere"


def test_publish_in_unprotected_emca_is_never_marked(world, api, customer_core):
    manifest, files = customer_core
    response = publish_via_api(
        api(world.emca_admin), world.emca_dev_env, factories.package_bytes(manifest, files)
    )
    assert response.status_code == 201
    assert response.json()["version"]["marked"] is False


def test_odc_never_marks_even_when_protected(world, api, customer_core):
    odc = factories.make_infrastructure("Cloud", platform="odc", protected=True)
    env = factories.make_environment(odc, "Development")
    factories.make_member(odc, world.developer, create_modules=True)
    manifest, files = customer_core

    response = publish_via_api(api(world.developer), env, factories.package_bytes(manifest, files))

    assert response.status_code == 201, response.json()
    assert response.json()["version"]["marked"] is False
    assert ModuleVersion.objects.get(module__infrastructure=odc).marked_code == ""


def test_marked_package_from_acme_is_refused_in_an_odc_infrastructure(world, api, customer_core):
    odc = factories.make_infrastructure("Cloud", platform="odc")
    env = factories.make_environment(odc, "Development")
    factories.make_member(odc, world.developer, create_modules=True)
    manifest, files = customer_core
    published = publish_via_api(
        api(world.developer), world.acme_dev_env, factories.package_bytes(manifest, files)
    )
    version_id = published.json()["version"]["id"]

    response = api(world.developer).post(
        "/api/v1/deployments", {"version": version_id, "environment": env.pk}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["detail"] == IPP_MESSAGE


def test_package_upload_helper_is_a_real_file():
    assert upload(b"x").read() == b"x"


def test_unsealed_rebuild_is_allowed_where_the_content_was_transferred_to(
    world, api, publish, customer_core
):
    manifest, files = customer_core
    version = publish(world.developer, world.acme_dev_env, manifest, files).version
    transferred = sign_mark(
        key=version.module.key,
        digest=version.digest,
        activation_code=world.emca.activation_code,
        epoch=2,
    )
    emca = api(world.emca_admin)
    assert (
        publish_via_api(
            emca, world.emca_dev_env, sealed_bytes(version, mark=transferred)
        ).status_code
        == 201
    )

    response = publish_via_api(emca, world.emca_prod_env, factories.package_bytes(manifest, files))

    assert response.status_code in (200, 201), response.json()
    assert response.json()["version"]["mark"] == transferred
