"""Preflight says what a deploy or publish would answer, and changes nothing."""

import json

import pytest

from audit.models import AuditEntry
from core.levels import Level
from permissions.deployers import deployer_add
from registry.models import Deployment, Environment, ModuleVersion
from tests import factories
from tests.ipp.conftest import upload
from tests.ipp.helpers import members, rezip, sealed_bytes


@pytest.fixture
def marked(world, publish, customer_core):
    manifest, files = customer_core
    return publish(world.developer, world.acme_dev_env, manifest, files).version


def preflight(client, env, body, fmt="json"):
    return client.post(f"/api/v1/environments/{env.pk}/preflight", body, format=fmt)


def outcomes(response):
    assert response.status_code == 200, response.json()
    return [r["outcome"] for r in response.json()["results"]]


def test_preflight_of_versions_says_ok_ipp_or_permission_and_changes_nothing(world, api, marked):
    factories.make_member(world.emca, world.developer, create_modules=True)
    client = api(world.developer)
    before = (AuditEntry.objects.count(), Deployment.objects.count(), ModuleVersion.objects.count())

    same_infra = preflight(client, world.acme_prod_env, {"versions": [marked.pk]})
    other_infra = preflight(client, world.emca_dev_env, {"versions": [marked.pk, 999999]})

    assert outcomes(same_infra) == ["ok"]
    assert outcomes(other_infra) == ["invalid_intellectual_property", "not_found"]
    assert "Platform Server" in other_infra.json()["results"][0]["reason"]
    assert (
        AuditEntry.objects.count(),
        Deployment.objects.count(),
        ModuleVersion.objects.count(),
    ) == before


def test_preflight_reports_missing_publish_as_permission(world, api, marked):
    factories.make_member(world.acme, world.outsider, default_level=Level.OPEN)
    response = preflight(api(world.outsider), world.acme_prod_env, {"versions": [marked.pk]})
    assert outcomes(response) == ["permission"]


def test_preflight_reports_broken_references(world, api, publish, marked):
    client_manifest = factories.manifest(
        name="Client", references=[{"module": str(marked.module.key), "elements": ["GetCustomer"]}]
    )
    response = preflight(
        api(world.developer),
        world.acme_prod_env,
        {"package": upload(factories.package_bytes(client_manifest))},
        fmt="multipart",
    )
    # CustomerCore runs in Development only, so Production lacks it.
    assert outcomes(response) == ["broken_reference"]
    assert "CustomerCore" in response.json()["results"][0]["reason"]


def test_preflight_of_packages_sealed_tampered_and_invalid(world, api, marked):
    sealed = sealed_bytes(marked)
    contents = members(sealed)
    mark = json.loads(contents["mark.json"])
    mark["epoch"] = 7
    contents["mark.json"] = json.dumps(mark, sort_keys=True, separators=(",", ":")).encode()

    emca = api(world.emca_admin)
    acme = api(world.acme_admin)
    assert outcomes(
        preflight(emca, world.emca_dev_env, {"package": upload(sealed)}, "multipart")
    ) == ["invalid_intellectual_property"]
    assert outcomes(
        preflight(acme, world.acme_prod_env, {"package": upload(sealed)}, "multipart")
    ) == ["ok"]
    assert outcomes(
        preflight(acme, world.acme_prod_env, {"package": upload(rezip(contents))}, "multipart")
    ) == ["tampered_package"]
    assert outcomes(
        preflight(acme, world.acme_prod_env, {"package": upload(b"not a zip")}, "multipart")
    ) == ["invalid_package"]
    assert not AuditEntry.objects.filter(action="module.publish_refused").exists()


def test_preflight_needs_something_to_check_and_a_visible_environment(world, api):
    assert preflight(api(world.developer), world.acme_prod_env, {}).status_code == 400
    assert preflight(api(world.outsider), world.acme_prod_env, {"versions": [1]}).status_code == 404


def test_preflight_reports_a_protected_environment_and_records_nothing(world, api, marked):
    Environment.objects.filter(pk=world.acme_prod_env.pk).update(protected=True)
    world.acme_prod_env.refresh_from_db()
    before = AuditEntry.objects.count()
    package = {"package": upload(factories.package_bytes(factories.manifest(name="Fresh")))}

    developer = preflight(api(world.developer), world.acme_prod_env, {"versions": [marked.pk]})
    developer_package = preflight(api(world.developer), world.acme_prod_env, package, "multipart")
    admin = preflight(api(world.acme_admin), world.acme_prod_env, {"versions": [marked.pk]})

    assert outcomes(developer) == ["environment_protected"]
    assert "Production of ACME is protected" in developer.json()["results"][0]["reason"]
    assert outcomes(developer_package) == ["environment_protected"]
    assert outcomes(admin) == ["ok"]
    assert AuditEntry.objects.count() == before

    deployer_add(actor=world.acme_admin, environment=world.acme_prod_env, user=world.developer)
    named = preflight(api(world.developer), world.acme_prod_env, {"versions": [marked.pk]})
    assert outcomes(named) == ["ok"]
