"""Publishing a key for the first time, and keys a publisher cannot see.

Four concurrent first publishes of one new key used to fail with IntegrityError (500)
for the losers of the race on the (infrastructure, key) unique constraint.
"""

import threading

import pytest
from django.db import connection, connections

from audit.models import AuditEntry
from core.errors import NotAllowed
from permissions import door
from publishing import services
from publishing.deploying import module_deploy
from publishing.services import module_publish
from registry.models import Deployment, Module, ModuleVersion
from tests import factories


def test_publishing_a_key_the_user_cannot_see_answers_like_a_new_key(world, publish):
    """The contractor may not create modules: an existing, invisible key gets the same
    create_modules refusal as a new key, never 'You may not publish module …'."""
    hidden = factories.manifest(name="HiddenCore")
    publish(world.acme_admin, world.acme_dev_env, hidden)
    with pytest.raises(NotAllowed) as invisible:
        publish(world.contractor, world.acme_dev_env, hidden)
    with pytest.raises(NotAllowed) as new:
        publish(world.contractor, world.acme_dev_env, factories.manifest(name="Other"))
    assert invisible.value.detail == new.value.detail
    assert "HiddenCore" not in invisible.value.detail


def test_a_creator_sees_no_name_of_an_invisible_module_with_the_same_key(world, publish):
    factories.make_member(world.emca, world.developer, create_modules=True)
    hidden = factories.manifest(name="SecretName")
    publish(world.emca_admin, world.emca_dev_env, hidden)
    with pytest.raises(NotAllowed) as refused:
        publish(world.developer, world.emca_dev_env, hidden)
    assert "SecretName" not in refused.value.detail
    assert world.developer.pk not in Module.objects.values_list("created_by", flat=True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_concurrent_first_publishes_of_one_key_all_succeed(world):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so nothing races")
    manifest = factories.manifest(name="Racy")
    barrier = threading.Barrier(4)
    outcomes: list = [None] * 4

    def run(index):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = module_publish(
                user=world.developer,
                environment=world.acme_dev_env,
                upload=factories.package_file(manifest, {"a.txt": f"content {index}".encode()}),
            )
        except Exception as exc:  # reported to the main thread
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    module = Module.objects.get(key=manifest["key"])
    assert ModuleVersion.objects.filter(module=module).count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deploys_of_one_module_into_one_environment_all_succeed(world):
    """Two READ COMMITTED deploys each used to retire the old current deployment and insert
    a new one: the loser met the one-current-deployment constraint (IntegrityError, 500)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serializes writers, so nothing races")
    manifest = factories.manifest(name="Deployed")
    versions = [
        module_publish(
            user=world.acme_admin,
            environment=world.acme_dev_env,
            upload=factories.package_file(manifest, {"a.txt": f"content {n}".encode()}),
        ).version
        for n in range(2)
    ]
    barrier = threading.Barrier(4)
    outcomes: list = [None] * 4

    def run(index):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = module_deploy(
                user=world.acme_admin, version=versions[index % 2], environment=world.acme_prod_env
            )
        except Exception as exc:  # reported to the main thread
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [o for o in outcomes if isinstance(o, Exception)] == []
    current = Deployment.objects.filter(environment=world.acme_prod_env, is_current=True)
    assert current.count() == 1


def test_a_creator_who_loses_the_race_for_a_new_key_publishes_into_the_winners_module(
    world, publish, monkeypatch
):
    """The in-transaction lookup found no module, but another publish committed one with
    the key before the INSERT: the INSERT yields (ON CONFLICT DO NOTHING, no savepoint,
    the transaction stays usable) and the version goes into that module, as a publish
    into an existing one: no second module, no creator grant."""
    manifest = factories.manifest(name="Contested")
    winner = publish(world.acme_admin, world.acme_dev_env, manifest, {"a.txt": b"1"}).module
    real_target = services.find_target
    calls = []

    def missed_it(**kwargs):
        calls.append(kwargs["for_update"])
        if len(calls) == 1:  # the in-transaction lookup, as if before their commit
            return None, door.membership_for(
                kwargs["user"], kwargs["infrastructure"], for_update=True
            )
        return real_target(**kwargs)

    monkeypatch.setattr(services, "find_target", missed_it)
    grants = AuditEntry.objects.filter(action="permission.changed").count()
    result = publish(world.acme_admin, world.acme_dev_env, manifest, {"a.txt": b"2"})
    assert calls == [True, True]  # the lookup that missed, the retry after the INSERT
    assert result.module.pk == winner.pk and result.version.number == 2
    assert Module.objects.filter(key=winner.key).count() == 1
    assert AuditEntry.objects.filter(action="permission.changed").count() == grants
    published = AuditEntry.objects.filter(action="module.published").latest("seq")
    assert published.details["new_module"] is False


def test_a_key_taken_between_the_precheck_and_the_publish_is_checked_as_an_existing_module(
    world, publish, monkeypatch
):
    """The precheck saw a new key, so the publish's INSERT is its existence check: a module
    committed with the key in between is found by the INSERT's ON CONFLICT and then
    checked like any existing module (publish needed: the developer has open on it)."""
    manifest = factories.manifest(name="Taken")
    winner = publish(world.acme_admin, world.acme_dev_env, manifest, {"a.txt": b"1"}).module
    monkeypatch.setattr(services, "publish_precheck", lambda **kwargs: None)
    with pytest.raises(NotAllowed, match="for publish on it"):
        publish(world.developer, world.acme_dev_env, manifest, {"a.txt": b"2"})
    assert ModuleVersion.objects.filter(module=winner).count() == 1

    result = publish(world.acme_admin, world.acme_dev_env, manifest, {"a.txt": b"3"})
    assert result.module.pk == winner.pk and result.version.number == 2
    assert Module.objects.filter(key=winner.key).count() == 1
    published = AuditEntry.objects.filter(action="module.published").latest("seq")
    assert published.details["new_module"] is False
