"""SPEC rules 9 and 10 through the API: the first publication decides, exports come back.

Each test is an attack measured on the old main (or its legitimate twin): a mark
stripped by a rebuild, a one-byte edit or whitespace under a new key; a marked copy
hijacking its unmarked original; a twin entering by deploy; a long path that exported
but did not import; a sealed payload that is not the content its mark names.
"""

import hashlib
import io
import uuid
import zipfile

import pytest

from core.errors import IPP_MESSAGE
from core.levels import Level
from ipp.models import ContentProvenance, KeyProvenance
from ipp.sealing import build_sealed_package
from registry.models import ModuleVersion
from registry.selectors import open_version_source
from tests import factories
from tests.ipp.conftest import publish_via_api, refusals

# Longer than 64 bytes after normalization, so it has a fingerprint.
LOGIC = (
    b"function GetCustomer(Id) {\r\n"
    b"    // the secret algorithm ACME owns\r\n"
    b"    return Customers.Where(c => c.Id == Id).Single();\r\n"
    b"}\r\n"
)


@pytest.fixture
def acme_marked(world, api):
    """ACME (protected) publishes CustomerCore: marked; the developer also sits in EMCA."""
    factories.make_member(world.emca, world.developer, create_modules=True)
    manifest = factories.manifest(name="CustomerCore")
    files = {"Logic/GetCustomer.oml": LOGIC, "Entities/Customer.oml": b"entity Customer\n"}
    response = publish_via_api(
        api(world.acme_admin), world.acme_dev_env, factories.package_bytes(manifest, files)
    )
    assert response.status_code == 201, response.json()
    assert response.json()["version"]["marked"] is True
    return manifest, files


def refused(response, reason: str) -> bool:
    return response.status_code == 403 and response.json() == {
        "error": "invalid_intellectual_property",
        "detail": IPP_MESSAGE,
        "reason": reason,
    }


def read_source(client, module_id: int, path: str) -> bytes:
    response = client.get(f"/api/v1/modules/{module_id}/versions/1/source/{path}")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_an_exact_rebuild_of_a_marked_module_is_refused_elsewhere(world, api, acme_marked):
    manifest, files = acme_marked
    response = publish_via_api(
        api(world.developer), world.emca_dev_env, factories.package_bytes(manifest, files)
    )
    assert refused(response, "key_marked_elsewhere")
    assert refusals().last().details["reason"] == "key_marked_elsewhere"
    assert not ModuleVersion.objects.filter(module__infrastructure=world.emca).exists()


def test_a_one_byte_edit_with_the_same_key_is_refused(world, api, acme_marked):
    manifest, _files = acme_marked
    dev = api(world.developer)
    module_id = dev.get("/api/v1/modules").json()["results"][0]["id"]
    # Read through the API (open in ACME), then change one byte and publish in EMCA.
    source = read_source(dev, module_id, "Logic/GetCustomer.oml")
    edited = {"Logic/GetCustomer.oml": source + b" ", "Entities/Customer.oml": b"x"}
    response = publish_via_api(dev, world.emca_dev_env, factories.package_bytes(manifest, edited))
    assert refused(response, "key_marked_elsewhere")


def test_the_same_files_with_whitespace_changed_under_a_new_key_are_refused(
    world, api, acme_marked
):
    _manifest, files = acme_marked
    reworked = LOGIC.replace(b"\r\n", b"   \n\n\n").replace(b"    ", b"    ") + b"\n\n  \n"
    new_key = factories.manifest(name="MyOwnCustomers")
    response = publish_via_api(
        api(world.developer),
        world.emca_dev_env,
        factories.package_bytes(new_key, {"Logic/Mine.oml": reworked}),
    )
    assert refused(response, "content_marked_elsewhere")


def test_content_that_differs_beyond_whitespace_under_a_new_key_is_allowed(world, api, acme_marked):
    response = publish_via_api(
        api(world.developer),
        world.emca_dev_env,
        factories.package_bytes(
            factories.manifest(name="Mine"), {"Logic/Mine.oml": LOGIC.replace(b"42", b"43") + b"x"}
        ),
    )
    assert response.status_code == 201, response.json()


def test_small_files_are_ignored_by_the_content_rule(world, api, acme_marked):
    # "entity Customer\n" is 16 bytes: everyone has such files; they prove nothing.
    response = publish_via_api(
        api(world.developer),
        world.emca_dev_env,
        factories.package_bytes(
            factories.manifest(), {"Entities/Customer.oml": b"entity Customer\n"}
        ),
    )
    assert response.status_code == 201, response.json()


def test_marking_a_copy_does_not_hijack_the_unmarked_original(world, api):
    """EMCA (unprotected) exports its module; the export is published into protected ACME
    and marked there; EMCA's administrator still publishes EMCA's own package in EMCA."""
    factories.make_member(world.acme, world.emca_admin, role="administrator")
    emca = api(world.emca_admin)
    manifest = factories.manifest(name="Shop")
    package = factories.package_bytes(manifest, {"Logic/Cart.oml": LOGIC + b"// EMCA's cart\n"})
    first = publish_via_api(emca, world.emca_dev_env, package)
    assert first.status_code == 201 and first.json()["version"]["marked"] is False
    exported = emca.get(f"/api/v1/modules/{first.json()['module']['id']}/versions/1/package")
    assert exported.status_code == 200
    copy = publish_via_api(emca, world.acme_dev_env, b"".join(exported.streaming_content))
    assert copy.status_code == 201, copy.json()
    assert copy.json()["version"]["marked"] is True  # ACME marks its copy

    again = publish_via_api(emca, world.emca_prod_env, package)
    assert again.status_code in (200, 201), again.json()
    changed = factories.package_bytes(manifest, {"Logic/Cart.oml": LOGIC + b"// v2\n"})
    assert publish_via_api(emca, world.emca_dev_env, changed).status_code == 201
    provenance = KeyProvenance.objects.get(key=manifest["key"])
    assert provenance.infrastructure == world.emca and provenance.marked_code == ""


def test_a_twin_is_refused_by_deploy_exactly_as_by_package(world, api, acme_marked):
    """ACME, unprotected later, puts ACME-marked content in a new module: its versions are
    unmarked, but the file first appeared marked, so EMCA gets it neither way."""
    _manifest, files = acme_marked
    acme = api(world.acme_admin)
    assert (
        api(world.support)
        .patch(f"/api/v1/infrastructures/{world.acme.pk}", {"ipp_protected": False}, format="json")
        .status_code
        == 200
    )
    twin_manifest = factories.manifest(name="Twin")
    twin = publish_via_api(acme, world.acme_dev_env, factories.package_bytes(twin_manifest, files))
    assert twin.status_code == 201 and twin.json()["version"]["marked"] is False
    factories.make_member(world.emca, world.acme_admin, role="administrator")

    by_package = publish_via_api(
        acme, world.emca_dev_env, factories.package_bytes(twin_manifest, files)
    )
    by_deploy = acme.post(
        "/api/v1/deployments",
        {"version": twin.json()["version"]["id"], "environment": world.emca_dev_env.pk},
        format="json",
    )
    assert refused(by_package, "content_marked_elsewhere")
    assert refused(by_deploy, "content_marked_elsewhere")


def test_a_transfer_lets_the_key_and_its_content_in(world, api, acme_marked):
    manifest, files = acme_marked
    acme = api(world.acme_admin)
    module_id = acme.get("/api/v1/modules").json()["results"][0]["id"]
    transfer = acme.post(
        "/api/v1/transfers",
        {"modules": [module_id], "target_activation_code": world.emca.activation_code},
        format="json",
    )
    assert transfer.status_code == 201, transfer.json()
    package_url = transfer.json()["packages"][0]["url"]
    remarked = b"".join(api(world.emca_admin).get(package_url).streaming_content)
    response = publish_via_api(api(world.emca_admin), world.emca_dev_env, remarked)
    assert response.status_code == 201, response.json()
    # EMCA now holds the transfer: its own later versions of the key are its business.
    edited = {**files, "Logic/GetCustomer.oml": LOGIC + b"// EMCA's change\n"}
    again = publish_via_api(
        api(world.emca_admin), world.emca_dev_env, factories.package_bytes(manifest, edited)
    )
    assert again.status_code == 201, again.json()


def test_fingerprints_are_keyed_not_plain_hashes(world, acme_marked):
    plain = {
        hashlib.sha256(LOGIC).hexdigest(),
        hashlib.sha256(LOGIC.replace(b"\r\n", b"\n")).hexdigest(),
    }
    stored = set(ContentProvenance.objects.values_list("fingerprint", flat=True))
    assert stored and not (stored & plain)


@pytest.mark.parametrize("sealed", [False, True], ids=["plain", "sealed"])
def test_the_longest_path_the_site_accepts_exports_and_imports_again(world, api, sealed):
    infrastructure_env = world.acme_dev_env if sealed else world.emca_dev_env
    admin = api(world.acme_admin if sealed else world.emca_admin)
    long_path = "/".join(["d" * 254] * 4) + "/" + "f" * 4
    assert len(long_path.encode()) == 1024
    manifest = factories.manifest(name="Deep")
    first = publish_via_api(
        admin, infrastructure_env, factories.package_bytes(manifest, {long_path: LOGIC})
    )
    assert first.status_code == 201, first.json()
    assert first.json()["version"]["marked"] is sealed
    exported = admin.get(f"/api/v1/modules/{first.json()['module']['id']}/versions/1/package")
    data = b"".join(exported.streaming_content)
    assert ("mark.json" in zipfile.ZipFile(io.BytesIO(data)).namelist()) is sealed
    again = publish_via_api(admin, infrastructure_env, data)
    assert again.status_code == 200, again.json()  # the same version, accepted back


def test_a_path_longer_than_1024_bytes_is_refused_naming_the_rule(world, api):
    response = publish_via_api(
        api(world.emca_admin),
        world.emca_dev_env,
        factories.package_bytes(factories.manifest(), {"a/" * 600 + "x": LOGIC}),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_package"
    assert "longer than 1024 bytes" in response.json()["detail"]


def test_a_sealed_payload_whose_content_is_not_its_marks_digest_is_tampered(
    world, api, acme_marked
):
    """Seal version 2's files under version 1's mark and manifest: every byte is a valid
    seal, only the content differs from what the mark names."""
    manifest, files = acme_marked
    acme = api(world.acme_admin)
    edited = {**files, "Logic/GetCustomer.oml": LOGIC + b"// v2\n"}
    second = publish_via_api(acme, world.acme_dev_env, factories.package_bytes(manifest, edited))
    assert second.status_code == 201
    v1, v2 = ModuleVersion.objects.filter(module__key=manifest["key"]).order_by("number")
    out = io.BytesIO()
    build_sealed_package(version=v1, reader=open_version_source(v2), out=out)
    response = publish_via_api(acme, world.acme_prod_env, out.getvalue())
    assert response.status_code == 400
    assert response.json()["error"] == "tampered_package"
    assert "not the content its mark names" in response.json()["detail"]


def test_a_key_first_published_unmarked_stays_free_when_its_owner_protects_later(world, api):
    factories.make_member(world.emca, world.developer, create_modules=True)
    factories.make_member(
        world.acme, world.emca_admin, default_level=Level.PUBLISH, create_modules=True
    )
    manifest = factories.manifest(name="Free")
    first = publish_via_api(
        api(world.emca_admin),
        world.emca_dev_env,
        factories.package_bytes(manifest, {"a.oml": LOGIC}),
    )
    assert first.json()["version"]["marked"] is False
    key = uuid.UUID(manifest["key"])
    assert KeyProvenance.objects.get(key=key).marked_code == ""
    into_acme = publish_via_api(
        api(world.emca_admin),
        world.acme_dev_env,
        factories.package_bytes(manifest, {"a.oml": LOGIC}),
    )
    assert into_acme.status_code == 201 and into_acme.json()["version"]["marked"] is True
