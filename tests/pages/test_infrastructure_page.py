"""The infrastructure page: activation code, IPP and portal state, environments."""

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from registry.models import Environment
from tests import factories


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("support", 200),
        ("acme_admin", 200),
        ("developer", 200),
        ("contractor", 200),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_acme_infrastructure_page_status_per_persona(world, as_user, persona, status):
    user = world.personas()[persona]
    response = as_user(user).get(reverse("infrastructure", args=[world.acme.pk]))
    assert response.status_code == status


def test_anonymous_visitor_is_sent_to_sign_in(world, as_user):
    response = as_user().get(reverse("infrastructure", args=[world.acme.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_infrastructure_page_shows_activation_code_state_and_environments(world, as_user):
    response = as_user(world.developer).get(reverse("infrastructure", args=[world.acme.pk]))
    html = response.content.decode()
    assert world.acme.activation_code in html
    assert 'data-testid="copy-activation-code"' in html
    assert "IPP protected" in html
    assert "portal open" in html
    assert reverse("environment", args=[world.acme_dev_env.pk]) in html
    assert reverse("environment", args=[world.acme_prod_env.pk]) in html
    assert 'data-testid="members-count">3<' in html


def test_unprotected_infrastructure_shows_unprotected_badge(world, as_user):
    html = (
        as_user(world.emca_admin)
        .get(reverse("infrastructure", args=[world.emca.pk]))
        .content.decode()
    )
    assert "IPP unprotected" in html


def test_developer_does_not_get_the_environment_form(world, as_user):
    html = (
        as_user(world.developer)
        .get(reverse("infrastructure", args=[world.acme.pk]))
        .content.decode()
    )
    assert 'data-testid="environment-form"' not in html


@pytest.mark.parametrize("persona", ["support", "acme_admin"])
def test_support_and_administrator_add_an_environment(world, as_user, persona):
    client = as_user(world.personas()[persona])
    url = reverse("infrastructure", args=[world.acme.pk])
    assert 'data-testid="environment-form"' in client.get(url).content.decode()
    response = client.post(url, {"name": "Test"}, follow=True)
    assert response.status_code == 200
    assert Environment.objects.filter(infrastructure=world.acme, name="Test").exists()
    assert "Environment Test added to ACME." in response.content.decode()
    assert AuditEntry.objects.filter(action="environment.created").count() == 1


def test_developer_cannot_add_an_environment(world, as_user):
    response = as_user(world.developer).post(
        reverse("infrastructure", args=[world.acme.pk]), {"name": "Test"}
    )
    assert response.status_code == 403
    assert not Environment.objects.filter(name="Test").exists()


def test_duplicate_environment_name_is_refused_with_a_message(world, as_user):
    response = as_user(world.acme_admin).post(
        reverse("infrastructure", args=[world.acme.pk]), {"name": "development"}
    )
    assert response.status_code == 400
    assert "ACME already has an environment called development." in response.content.decode()
    assert world.acme.environments.count() == 2


def test_modules_list_shows_only_modules_the_user_can_see(world, as_user, core_module):
    url = reverse("infrastructure", args=[world.acme.pk])
    developer_html = as_user(world.developer).get(url).content.decode()
    assert reverse("module", args=[core_module.pk]) in developer_html
    contractor_html = as_user(world.contractor).get(url).content.decode()
    assert reverse("module", args=[core_module.pk]) not in contractor_html
    assert "none you have a level on" in contractor_html


def test_infrastructure_page_queries_do_not_grow_with_modules(
    world, as_user, publish, django_assert_max_num_queries
):
    client = as_user(world.developer)
    url = reverse("infrastructure", args=[world.acme.pk])
    publish(world.developer, world.acme_dev_env, factories.manifest(name="Module0"))
    with django_assert_max_num_queries(15) as one:
        client.get(url)
    for n in range(1, 5):
        publish(world.developer, world.acme_dev_env, factories.manifest(name=f"Module{n}"))
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count('data-level="publish"') == 5


def test_only_support_is_offered_the_ipp_settings(world, as_user):
    url = reverse("infrastructure", args=[world.acme.pk])
    admin_html = as_user(world.acme_admin).get(url).content.decode()
    assert 'data-testid="support-only"' in admin_html
    assert 'data-testid="ipp-toggles"' not in admin_html
    support_html = as_user(world.support).get(url).content.decode()
    assert 'data-testid="support-only"' not in support_html
