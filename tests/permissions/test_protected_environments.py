"""The Production story (SPEC §3, protected environments): who may publish and deploy there.

ACME's Production is protected. The developer built CustomerCore (publish, as its
creator); the contractor was given publish on it; ACME's administrator names deployers.
"""

import uuid

import pytest

from audit.models import AuditEntry
from core.errors import EnvironmentProtected, NotAllowed, ValidationFailed
from core.levels import Level
from permissions import door
from permissions.deployers import deployer_add, deployer_remove
from permissions.models import Deployer
from permissions.services import grant_set
from publishing.deploying import module_deploy
from publishing.services import environment_change, module_publish
from registry.models import Deployment, Membership
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(world):
    return environment_change(
        actor=world.acme_admin, environment=world.acme_prod_env, protected=True
    )


@pytest.fixture
def core(world, publish):
    """CustomerCore v1 in ACME Development, published by the developer."""
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    return publish(world.developer, world.acme_dev_env, manifest).version


def refusals():
    return AuditEntry.objects.filter(
        action="module.publish_refused", details__reason="environment_protected"
    )


def deployed(version, environment) -> bool:
    return Deployment.objects.filter(
        environment=environment, version=version, is_current=True
    ).exists()


def test_a_developers_deploy_to_production_is_refused_and_audited(world, production, core):
    with pytest.raises(EnvironmentProtected) as refused:
        module_deploy(user=world.developer, version=core, environment=production)

    assert refused.value.status == 403 and refused.value.code == "environment_protected"
    assert "Production of ACME is protected" in refused.value.detail
    assert not deployed(core, production)
    entry = refusals().get()
    assert entry.actor == world.developer and entry.infrastructure == world.acme
    assert entry.details["module"] == "CustomerCore"
    assert entry.details["environment"] == "Production"


def test_the_developer_deploys_to_production_once_named_a_deployer(world, production, core):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)

    module_deploy(user=world.developer, version=core, environment=production)

    assert deployed(core, production)
    assert not refusals().exists()
    change = AuditEntry.objects.filter(action="environment.changed").order_by("-seq").first()
    assert change.details == {
        "environment": "Production",
        "deployer": "developer",
        "change": "deployer_added",
    }


def test_the_administrator_always_deploys_to_production(world, production, core):
    assert not Deployer.objects.exists()
    module_deploy(user=world.acme_admin, version=core, environment=production)
    assert deployed(core, production)


def test_a_contractor_with_publish_is_refused_in_production(world, production, core):
    grant_set(actor=world.acme_admin, module=core.module, user=world.contractor, level="publish")

    with pytest.raises(EnvironmentProtected):
        module_deploy(user=world.contractor, version=core, environment=production)
    # ...while the unprotected Test-like Development takes the same deploy.
    module_deploy(user=world.contractor, version=core, environment=world.acme_dev_env)

    assert refusals().get().actor == world.contractor


def test_without_publish_the_usual_answer_comes_first(world, production, core):
    grant_set(actor=world.acme_admin, module=core.module, user=world.contractor, level="open")
    with pytest.raises(NotAllowed):
        module_deploy(user=world.contractor, version=core, environment=production)
    assert not refusals().exists()


def test_publishing_a_package_straight_into_production_is_refused_too(world, production):
    upload = factories.package_file(factories.manifest(name="Fresh"))
    with pytest.raises(EnvironmentProtected):
        module_publish(user=world.developer, environment=production, upload=upload)
    assert refusals().get().details["module"] == "Fresh"
    assert not production.deployments.exists()


def test_removing_a_deployer_closes_production_again(world, production, core):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    assert deployer_remove(actor=world.acme_admin, environment=production, user=world.developer)
    with pytest.raises(EnvironmentProtected):
        module_deploy(user=world.developer, version=core, environment=production)


def test_unprotecting_production_lets_publishers_in(world, production, core):
    opened = environment_change(actor=world.support, environment=production, protected=False)
    module_deploy(user=world.developer, version=core, environment=opened)
    entry = AuditEntry.objects.filter(action="environment.changed").order_by("-seq").first()
    assert entry.details["from"] == {"protected": True}
    assert entry.details["to"] == {"protected": False}


def test_removing_the_member_removes_the_deployer_and_rejoining_brings_nothing_back(
    world, production
):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    Membership.objects.filter(infrastructure=world.acme, user=world.developer).delete()
    assert not Deployer.objects.exists()
    factories.make_member(world.acme, world.developer, default_level=Level.OPEN)
    assert door.may_deploy(world.developer, production) is False


def test_only_members_can_be_named_and_only_by_an_administrator(world, production):
    with pytest.raises(ValidationFailed):
        deployer_add(actor=world.acme_admin, environment=production, user=world.emca_admin)
    for actor in (world.support, world.developer, world.emca_admin):
        with pytest.raises(NotAllowed):
            deployer_add(actor=actor, environment=production, user=world.contractor)
    assert not Deployer.objects.exists()


def test_naming_a_deployer_twice_keeps_one_and_audits_once(world, production):
    _first, created = deployer_add(
        actor=world.acme_admin, environment=production, user=world.developer
    )
    _second, again = deployer_add(
        actor=world.acme_admin, environment=production, user=world.developer
    )
    assert (created, again) == (True, False)
    assert Deployer.objects.count() == 1
    assert AuditEntry.objects.filter(action="environment.changed").count() == 2  # protect + add


def test_deployable_environments_is_may_deploy_in_sql(world, production):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    for user in (world.acme_admin, world.developer, world.contractor, world.support):
        listed = set(door.deployable_environments(user))
        for env in door.environments_for_user(user):
            assert (env in listed) == door.may_deploy(user, env), (user, env)
    assert production not in set(door.deployable_environments(world.contractor))
