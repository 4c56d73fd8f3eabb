"""The module page: interface, references, versions, deployments and deploy form."""

import uuid

import pytest
from django.urls import NoReverseMatch, reverse
from guardian.shortcuts import assign_perm

from core.levels import Level
from registry.models import Deployment, Membership, ModuleVersion
from tests import factories


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("support", 404),  # support is not granted module levels by being support
        ("acme_admin", 200),
        ("developer", 200),
        ("contractor", 404),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_module_page_status_per_persona(world, as_user, core_module, persona, status):
    user = world.personas()[persona]
    assert as_user(user).get(reverse("module", args=[core_module.pk])).status_code == status


def test_module_page_shows_interface_versions_and_deployments(world, as_user, core_module):
    html = as_user(world.developer).get(reverse("module", args=[core_module.pk])).content.decode()
    assert "GetCustomer(Id: Integer) -&gt; Customer" in html
    assert html.count('data-testid="version-row"') == 1
    assert reverse("module_source", args=[core_module.pk, 1]) in html
    assert reverse("module_export", args=[core_module.pk, 1]) in html
    assert 'data-testid="deploy-form"' in html
    assert 'data-level="publish"' in html
    assert str(core_module.key) in html


def test_contractor_with_reference_sees_the_interface_but_no_source(world, as_user, core_module):
    assign_perm("reference_module", world.contractor, core_module)
    html = as_user(world.contractor).get(reverse("module", args=[core_module.pk])).content.decode()
    assert "GetCustomer" in html
    assert 'data-level="reference"' in html
    assert 'data-testid="reference-only"' in html
    assert reverse("module_source", args=[core_module.pk, 1]) not in html
    assert 'data-testid="deploy-form"' not in html


def test_references_name_visible_modules_and_hide_invisible_ones(
    world, as_user, publish, core_module
):
    core_key = str(core_module.key)
    billing = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(
            name="Billing_API",
            exposes=[],
            references=[{"module": core_key, "elements": ["GetCustomer"]}],
        ),
    ).module
    html = as_user(world.developer).get(reverse("module", args=[billing.pk])).content.decode()
    assert reverse("module", args=[core_module.pk]) in html
    assign_perm("reference_module", world.contractor, billing)
    html = as_user(world.contractor).get(reverse("module", args=[billing.pk])).content.decode()
    assert "A module you cannot see" in html
    assert reverse("module", args=[core_module.pk]) not in html


def test_deploy_form_offers_only_environments_the_user_can_see(world, as_user, core_module):
    response = as_user(world.developer).get(reverse("module", args=[core_module.pk]))
    choices = dict(response.context["deploy_form"].fields["environment"].choices)
    assert set(choices) == {world.acme_dev_env.pk, world.acme_prod_env.pk}


def test_developer_deploys_to_production_through_the_page(world, as_user, core_module):
    version = core_module.versions.get()
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[core_module.pk]),
        {"version": version.pk, "environment": world.acme_prod_env.pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "Deployed CustomerCore v1 to ACME / Production." in response.content.decode()
    assert Deployment.objects.filter(
        environment=world.acme_prod_env, version=version, is_current=True
    ).exists()


def test_deploy_to_an_environment_the_user_cannot_see_is_refused(world, as_user, core_module):
    version = core_module.versions.get()
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[core_module.pk]),
        {"version": version.pk, "environment": world.emca_dev_env.pk},
    )
    assert response.status_code == 400
    assert not Deployment.objects.filter(environment=world.emca_dev_env).exists()


def test_user_with_open_only_gets_403_on_deploy(world, as_user, publish):
    module = publish(world.acme_admin, world.acme_dev_env).module  # developer: open by default
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[module.pk]),
        {"version": module.versions.get().pk, "environment": world.acme_prod_env.pk},
    )
    assert response.status_code == 403
    assert not Deployment.objects.filter(environment=world.acme_prod_env).exists()


def test_contractor_without_a_level_gets_404_on_deploy(world, as_user, core_module):
    response = as_user(world.contractor).post(
        reverse("module_deploy", args=[core_module.pk]),
        {"version": core_module.versions.get().pk, "environment": world.acme_prod_env.pk},
    )
    assert response.status_code == 404


def test_marked_version_deployed_to_another_infrastructure_shows_the_ipp_error(
    world, as_user, core_module
):
    version = core_module.versions.get()
    if not version.marked:
        pytest.skip("IPP marks are not issued yet in this build")
    factories.make_member(
        world.emca, world.developer, default_level=Level.OPEN, create_modules=True
    )
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[core_module.pk]),
        {"version": version.pk, "environment": world.emca_dev_env.pk},
    )
    assert response.status_code == 403
    assert "Invalid Intellectual Property" in response.content.decode()
    assert not Deployment.objects.filter(environment=world.emca_dev_env).exists()


def test_unprotected_version_deploys_to_another_infrastructure(world, as_user, publish):
    factories.make_member(
        world.emca, world.developer, default_level=Level.OPEN, create_modules=True
    )
    factories.make_member(
        world.emca, world.acme_admin, role=Membership.Role.MEMBER, default_level=Level.NONE
    )
    world.acme.ipp_protected = False
    world.acme.save(update_fields=["ipp_protected"])
    module = publish(world.developer, world.acme_dev_env).module
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[module.pk]),
        {"version": module.versions.get().pk, "environment": world.emca_dev_env.pk},
    )
    assert response.status_code == 302
    deployment = Deployment.objects.get(environment=world.emca_dev_env)
    assert deployment.module.infrastructure == world.emca
    assert response["Location"] == reverse("module", args=[deployment.module.pk])


def test_administrator_gets_the_permissions_tab_and_developer_does_not(world, as_user, core_module):
    try:
        permissions_url = reverse("module_permissions", args=[core_module.pk])
    except NoReverseMatch:
        pytest.skip("the permissions app has no module_permissions page yet")
    url = reverse("module", args=[core_module.pk])
    assert permissions_url in as_user(world.acme_admin).get(url).content.decode()
    assert permissions_url not in as_user(world.developer).get(url).content.decode()


def test_module_page_queries_do_not_grow_with_versions(
    world, as_user, publish, django_assert_max_num_queries
):
    man = factories.manifest(name="CustomerCore")
    publish(world.developer, world.acme_dev_env, man, {"a.txt": b"1"})
    module = publish(world.developer, world.acme_prod_env, man, {"a.txt": b"1"}).module
    client = as_user(world.developer)
    url = reverse("module", args=[module.pk])
    with django_assert_max_num_queries(25) as one:
        client.get(url)
    for n in range(2, 6):
        publish(world.developer, world.acme_dev_env, man, {"a.txt": str(n).encode()})
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get(url).content.decode()
    assert html.count('data-testid="version-row"') == 5


def _many_versions(module, count: int) -> None:
    ModuleVersion.objects.bulk_create(
        ModuleVersion(
            module=module,
            number=n,
            digest=uuid.uuid4().hex * 2,
            wrapped_key=b"x",
            master_key_id="k",
        )
        for n in range(2, count + 1)
    )


def test_the_deploy_form_offers_the_versions_of_the_page_not_every_version(
    world, as_user, core_module
):
    _many_versions(core_module, 60)
    client = as_user(world.developer)
    url = reverse("module", args=[core_module.pk])
    first = dict(client.get(url).context["deploy_form"].fields["version"].choices)
    assert len(first) == 50 and "v60" in first.values() and "v10" not in first.values()
    second = dict(client.get(url, {"page": 2}).context["deploy_form"].fields["version"].choices)
    assert sorted(label.split()[0] for label in second.values()) == sorted(
        f"v{n}" for n in range(1, 11)
    )


def test_a_version_beyond_the_first_page_deploys(world, as_user, core_module):
    _many_versions(core_module, 60)
    oldest = core_module.versions.get(number=1)
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[core_module.pk]),
        {"version": oldest.pk, "environment": world.acme_prod_env.pk},
        follow=True,
    )
    assert "Deployed CustomerCore v1 to ACME / Production." in response.content.decode()


def test_a_version_of_another_module_is_not_deployed(world, as_user, core_module, publish):
    other = publish(world.developer, world.acme_dev_env, factories.manifest(name="Other")).version
    response = as_user(world.developer).post(
        reverse("module_deploy", args=[core_module.pk]),
        {"version": other.pk, "environment": world.acme_prod_env.pk},
    )
    assert response.status_code == 400
    assert not Deployment.objects.filter(environment=world.acme_prod_env).exists()
