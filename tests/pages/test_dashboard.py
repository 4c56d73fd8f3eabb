"""The dashboard: my infrastructures with role, IPP and portal badges, environments."""

from django.urls import reverse

from permissions import services
from tests import factories


def test_member_sees_their_infrastructures_with_role_and_badges(world, as_user):
    html = as_user(world.acme_admin).get(reverse("dashboard")).content.decode()
    assert reverse("infrastructure", args=[world.acme.pk]) in html
    assert reverse("infrastructure", args=[world.emca.pk]) not in html
    assert 'data-testid="role">Administrator<' in html
    assert "IPP protected" in html
    assert reverse("environment", args=[world.acme_dev_env.pk]) in html


def test_developer_is_a_member_and_sees_module_counts(world, as_user, publish):
    publish(world.developer, world.acme_dev_env)
    html = as_user(world.developer).get(reverse("dashboard")).content.decode()
    assert 'data-testid="role">Member<' in html
    assert "1 module you can see" in html


def test_counts_disclose_no_module_a_contractor_cannot_see(world, as_user, publish):
    """Three modules in ACME, one the contractor may see: the dashboard says one, and the
    environment's badge counts only that one's deployment."""
    results = [
        publish(world.developer, world.acme_dev_env, factories.manifest(name=f"M{i}"))
        for i in range(3)
    ]
    services.grant_set(
        actor=world.acme_admin, module=results[0].module, user=world.contractor, level=1
    )
    html = as_user(world.contractor).get(reverse("dashboard")).content.decode()
    assert "1 module you can see" in html
    assert "3 modules" not in html
    env_link = reverse("environment", args=[world.acme_dev_env.pk])
    badge = html.split(env_link, 1)[1].split("</a>", 1)[0]
    assert ">1<" in badge and ">3<" not in badge


def test_the_catalog_api_answers_a_nul_in_the_search_without_error(world, as_user):
    # PostgreSQL text cannot hold a NUL (500 before): refused like any bad value, as the
    # schema's pattern for q says.
    response = as_user(world.developer).get("/api/v1/modules?q=%00")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert as_user(world.developer).get("/api/v1/modules?q=Cust").status_code == 200


def test_support_sees_every_infrastructure(world, as_user):
    html = as_user(world.support).get(reverse("dashboard")).content.decode()
    assert reverse("infrastructure", args=[world.acme.pk]) in html
    assert reverse("infrastructure", args=[world.emca.pk]) in html
    assert 'data-testid="role">Support<' in html


def test_outsider_gets_an_empty_state_that_says_what_to_do(world, as_user):
    html = as_user(world.outsider).get(reverse("dashboard")).content.decode()
    assert 'data-testid="empty-infrastructures"' in html
    assert "Ask an infrastructure administrator to add you" in html


def test_anonymous_visitor_is_sent_to_sign_in(db, as_user):
    response = as_user().get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_queries_do_not_grow_with_infrastructures(
    world, as_user, django_assert_max_num_queries
):
    client = as_user(world.support)
    with django_assert_max_num_queries(20) as two:
        client.get(reverse("dashboard"))
    for n in range(4):
        infra = factories.make_infrastructure(f"Extra{n}")
        factories.make_environment(infra, "Development")
        factories.make_environment(infra, "Production")
    with django_assert_max_num_queries(len(two.captured_queries)):
        html = client.get(reverse("dashboard")).content.decode()
    assert html.count('data-testid="infrastructure-card"') == 6
