"""Publishing and deploying through the services: versions, permissions, references."""

import uuid

import pytest

from audit.models import AuditEntry
from core.errors import BrokenReference, InvalidPackage, NotAllowed
from core.levels import Level
from permissions import door
from publishing.deploying import module_deploy
from publishing.services import membership_set, module_publish
from registry.models import Deployment, Module, ModuleVersion
from registry.selectors import version_manifest
from tests import factories


def test_publishing_a_new_key_creates_module_version_and_deployment(world, publish):
    result = publish(world.developer, world.acme_dev_env)
    assert result.created_version
    assert result.version.number == 1
    assert result.deployment.environment == world.acme_dev_env
    assert result.deployment.is_current
    assert door.effective_level(world.developer, result.module) == Level.PUBLISH
    entry = AuditEntry.objects.get(action="module.published")
    assert entry.actor == world.developer
    assert entry.infrastructure == world.acme


def test_republishing_identical_content_creates_no_new_version(world, publish):
    man = factories.manifest()
    first = publish(world.developer, world.acme_dev_env, man)
    again = publish(world.developer, world.acme_dev_env, man)
    assert not again.created_version
    assert again.version.pk == first.version.pk
    assert ModuleVersion.objects.filter(module=first.module).count() == 1


def test_changed_content_becomes_the_next_version_and_the_current_deployment(world, publish):
    man = factories.manifest()
    publish(world.developer, world.acme_dev_env, man, {"a.txt": b"one"})
    second = publish(world.developer, world.acme_dev_env, man, {"a.txt": b"two"})
    assert second.version.number == 2
    current = Deployment.objects.get(environment=world.acme_dev_env, is_current=True)
    assert current.version == second.version
    assert Deployment.objects.filter(environment=world.acme_dev_env).count() == 2


def test_member_without_create_modules_cannot_publish_a_new_key(world, publish):
    with pytest.raises(NotAllowed, match="create modules"):
        publish(world.contractor, world.acme_dev_env)
    assert not Module.objects.exists()


def test_outsider_cannot_publish_into_an_infrastructure_they_do_not_belong_to(world, publish):
    with pytest.raises(NotAllowed):
        publish(world.outsider, world.acme_dev_env)
    assert not Module.objects.exists()


def test_invalid_package_leaves_nothing_behind(world, settings):
    with pytest.raises(InvalidPackage):
        module_publish(
            user=world.developer,
            environment=world.acme_dev_env,
            upload=factories.io.BytesIO(b"not a zip at all"),
        )
    assert not Module.objects.exists()
    assert not AuditEntry.objects.filter(action="module.published").exists()
    assert not any(settings.IPP_BLOB_DIR.iterdir())


def test_reference_to_an_element_not_deployed_in_the_environment_is_a_broken_reference(
    world, publish
):
    api = publish(world.developer, world.acme_dev_env, factories.manifest(name="CustomerCore"))
    ui = factories.manifest(
        name="CustomerPortal",
        exposes=[],
        references=[{"module": str(api.module.key), "elements": ["GetCustomer", "DeleteAll"]}],
    )
    with pytest.raises(BrokenReference, match="does not expose DeleteAll"):
        publish(world.developer, world.acme_dev_env, ui)
    with pytest.raises(BrokenReference, match="not deployed in Production"):
        publish(world.developer, world.acme_prod_env, ui)


def test_reference_to_an_exposed_and_deployed_element_publishes(world, publish):
    api = publish(world.developer, world.acme_dev_env, factories.manifest(name="CustomerCore"))
    ui = factories.manifest(
        name="CustomerPortal",
        exposes=[],
        references=[{"module": str(api.module.key), "elements": ["GetCustomer"]}],
    )
    result = publish(world.developer, world.acme_dev_env, ui)
    assert list(result.version.references.values_list("elements", flat=True)) == [["GetCustomer"]]


def test_reference_to_an_unknown_module_is_refused_without_disclosing_it(world, publish):
    ghost = str(uuid.uuid4())
    ui = factories.manifest(exposes=[], references=[{"module": ghost, "elements": ["X"]}])
    with pytest.raises(BrokenReference, match="not available to you"):
        publish(world.developer, world.acme_dev_env, ui)


def test_deploy_within_an_infrastructure_moves_the_current_version(world, publish):
    result = publish(world.developer, world.acme_dev_env)
    deployed = module_deploy(
        user=world.developer, version=result.version, environment=world.acme_prod_env
    )
    assert deployed.deployment.environment == world.acme_prod_env
    assert deployed.version == result.version
    assert AuditEntry.objects.filter(action="module.deployed").count() == 1


def test_deploy_needs_publish_on_the_module(world, publish):
    result = publish(world.developer, world.acme_dev_env)
    with pytest.raises(NotAllowed):
        module_deploy(
            user=world.contractor, version=result.version, environment=world.acme_prod_env
        )


def test_deploy_to_an_unprotected_other_infrastructure_publishes_it_there(world, publish):
    world.acme.ipp_protected = False
    world.acme.save(update_fields=["ipp_protected"])
    result = publish(world.developer, world.acme_dev_env)
    membership_set(
        actor=world.emca_admin, infrastructure=world.emca, user=world.developer, create_modules=True
    )
    moved = module_deploy(
        user=world.developer, version=result.version, environment=world.emca_dev_env
    )
    assert moved.module.infrastructure == world.emca
    assert moved.module.key == result.module.key
    assert moved.version.digest == result.version.digest
    assert moved.version.storage_id != result.version.storage_id


def test_an_old_version_keeps_the_name_it_was_published_with(world, publish):
    man = factories.manifest(name="CustomerCore")
    first = publish(world.developer, world.acme_dev_env, man, {"a.txt": b"one"})
    publish(
        world.developer, world.acme_dev_env, {**man, "name": "CustomerCore_API"}, {"a.txt": b"2"}
    )
    first.version.refresh_from_db()
    assert first.version.module.name == "CustomerCore_API"
    assert version_manifest(first.version).name == "CustomerCore"
