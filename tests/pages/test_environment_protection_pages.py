"""The environment page's protection: badge, switch, deployers, and who is offered the
upload form; the module page's deploy choices and the infrastructure page's list."""

import json

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from permissions.deployers import deployer_add
from permissions.models import Deployer
from permissions.services import grant_set
from registry.models import Environment
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(world):
    Environment.objects.filter(pk=world.acme_prod_env.pk).update(protected=True)
    world.acme_prod_env.refresh_from_db()
    return world.acme_prod_env


def page(client, environment) -> str:
    response = client.get(reverse("environment", args=[environment.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_everyone_who_sees_production_sees_that_it_is_protected(world, as_user, production):
    for user in (world.support, world.acme_admin, world.developer, world.contractor):
        assert 'data-testid="protected-badge"' in page(as_user(user), production)
    assert 'data-testid="protected-badge"' not in page(as_user(world.developer), world.acme_dev_env)


def test_the_administrator_gets_the_switch_and_the_deployers(world, as_user, production):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    html = page(as_user(world.acme_admin), production)
    assert 'data-testid="toggle-environment-protection"' in html
    assert 'data-testid="deployer-row" data-username="developer"' in html
    assert "data-member-search=" in html and "js/member_search.js" in html
    assert 'data-testid="publish-form"' in html


def test_support_gets_the_switch_but_not_the_deployers(world, as_user, production):
    html = page(as_user(world.support), production)
    assert 'data-testid="toggle-environment-protection"' in html
    assert 'data-testid="deployers-card"' not in html
    assert 'data-testid="publish-form"' not in html


def test_a_developer_is_told_production_is_protected_until_named(world, as_user, production):
    html = page(as_user(world.developer), production)
    assert 'data-testid="upload-protected"' in html
    assert 'data-testid="publish-form"' not in html
    assert 'data-testid="toggle-environment-protection"' not in html
    assert 'data-testid="deployers-card"' not in html

    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    assert 'data-testid="publish-form"' in page(as_user(world.developer), production)


def test_the_upload_form_is_offered_only_to_who_may_publish_there(world, as_user, publish):
    dev = world.acme_dev_env
    assert 'data-testid="upload-not-allowed"' in page(as_user(world.contractor), dev)
    assert 'data-testid="publish-form"' not in page(as_user(world.contractor), dev)

    module = publish(world.developer, dev).module
    grant_set(actor=world.acme_admin, module=module, user=world.contractor, level="publish")
    assert 'data-testid="publish-form"' in page(as_user(world.contractor), dev)
    assert 'data-testid="publish-form"' in page(as_user(world.developer), dev)  # create_modules


def test_protecting_from_the_page_is_audited(world, as_user):
    env = world.acme_prod_env
    url = reverse("environment_protection", args=[env.pk])
    response = as_user(world.acme_admin).post(url, {"protected": "1"}, follow=True)
    assert "Production is now protected" in response.content.decode()
    assert Environment.objects.get(pk=env.pk).protected is True
    entry = AuditEntry.objects.get(action="environment.changed")
    assert entry.actor == world.acme_admin and entry.details["to"] == {"protected": True}


@pytest.mark.parametrize(
    "persona, status",
    [("developer", 403), ("contractor", 403), ("emca_admin", 404), ("outsider", 404)],
)
def test_others_cannot_switch_protection(world, as_user, persona, status):
    url = reverse("environment_protection", args=[world.acme_prod_env.pk])
    response = as_user(world.personas()[persona]).post(url, {"protected": "1"})
    assert response.status_code == status
    assert Environment.objects.get(pk=world.acme_prod_env.pk).protected is False


def test_adding_and_removing_a_deployer_from_the_page(world, as_user, production):
    client = as_user(world.acme_admin)
    added = client.post(
        reverse("deployer_add", args=[production.pk]), {"username": "developer"}, follow=True
    )
    assert "developer may now deploy to Production" in added.content.decode()
    assert Deployer.objects.filter(membership__user=world.developer).exists()

    removed = client.post(
        reverse("deployer_remove", args=[production.pk, "developer"]), follow=True
    )
    assert "developer no longer deploys to Production" in removed.content.decode()
    assert not Deployer.objects.exists()


def test_a_non_member_cannot_be_added_and_the_page_says_why(world, as_user, production):
    response = as_user(world.acme_admin).post(
        reverse("deployer_add", args=[production.pk]), {"username": "emca_admin"}, follow=True
    )
    assert "emca_admin is not a member of ACME" in response.content.decode()
    assert not Deployer.objects.exists()


def test_the_member_search_answers_members_who_are_not_deployers_yet(world, as_user, production):
    deployer_add(actor=world.acme_admin, environment=production, user=world.developer)
    factories.make_member(world.acme, factories.make_user("devon"))
    url = reverse("deployer_search", args=[production.pk])

    found = json.loads(as_user(world.acme_admin).get(url, {"q": "dev"}).content)
    everyone = json.loads(as_user(world.acme_admin).get(url).content)

    assert [m["username"] for m in found["results"]] == ["devon"]
    # Administrators always may deploy: they are not suggested.
    assert [m["username"] for m in everyone["results"]] == ["contractor", "devon"]
    assert as_user(world.developer).get(url).status_code == 403
    assert as_user(world.emca_admin).get(url).status_code == 404


def test_the_member_search_costs_the_same_for_5_and_50_members(
    world, as_user, production, django_assert_max_num_queries
):
    client = as_user(world.acme_admin)
    url = reverse("deployer_search", args=[production.pk])
    for i in range(50):
        factories.make_member(world.acme, factories.make_user(f"member{i:02d}"))
    with django_assert_max_num_queries(6):
        body = json.loads(client.get(url, {"q": "member"}).content)
    assert len(body["results"]) == 10


def test_the_deploy_form_offers_production_only_to_who_may_deploy_there(
    world, as_user, production, publish
):
    module = publish(world.developer, world.acme_dev_env).module
    url = reverse("module", args=[module.pk])
    developer = as_user(world.developer).get(url).content.decode()
    admin = as_user(world.acme_admin).get(url).content.decode()
    assert "ACME / Development" in developer and "ACME / Production" not in developer
    assert "ACME / Production — protected" in admin


def test_the_infrastructure_page_marks_protected_environments_and_creates_them(
    world, as_user, production
):
    client = as_user(world.acme_admin)
    url = reverse("infrastructure", args=[world.acme.pk])
    assert client.get(url).content.decode().count('data-testid="environment-protected"') == 1
    client.post(url, {"name": "Live", "protected": "on"})
    assert Environment.objects.get(infrastructure=world.acme, name="Live").protected is True
