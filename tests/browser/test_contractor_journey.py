"""The contractor journey: the ACME administrator grants reference on one module from the
contractor's Modules tab; the contractor then finds exactly that module in the catalog,
with its interface, and is refused its source."""

import re

import pytest
from django.urls import reverse

from core.levels import Level
from permissions import services
from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _modules(world, publish):
    api = publish(
        world.developer,
        world.acme_dev_env,
        manifest=factories.manifest(
            name="OrdersAPI",
            exposes=[
                {
                    "name": "GetOrder",
                    "kind": "server_action",
                    "signature": "GetOrder(Id: Integer) -> Order",
                },
                {
                    "name": "PlaceOrder",
                    "kind": "service_action",
                    "signature": "PlaceOrder(Order) -> Integer",
                },
            ],
        ),
    ).module
    publish(world.developer, world.acme_dev_env, manifest=factories.manifest(name="Billing"))
    return api


def test_contractor_gets_reference_on_the_api_module_and_sees_only_its_interface(
    browser_page, world, publish
):
    page = browser_page
    api = _modules(world, publish)

    login(page, "acme_admin")
    page.goto(reverse("infrastructure", args=[world.acme.pk]))
    page.locator('[data-testid="users-link"]').click()
    page.wait_for_url(re.compile(r"/users/$"))
    page.locator('[data-username="contractor"] [data-testid="modules-tab-link"]').click()
    page.wait_for_url(re.compile(r"/users/\d+/modules/$"))
    row = page.locator('[data-testid="user-module"][data-module="OrdersAPI"]')
    assert row.locator('[data-level="none"]').count() == 1
    row.locator('input[name="modules"]').check()
    page.select_option('[data-testid="bulk-level"]', "reference")
    screenshot(page, "contractor_journey-1-modules-tab-ticked")
    page.locator('[data-testid="bulk-submit"]').click()
    page.wait_for_load_state()
    assert (
        "contractor's grant is now reference on 1 module"
        in page.locator('[data-testid="message"]').inner_text()
    )
    assert row.locator('[data-level="reference"]').count() == 1
    assert (
        page.locator(
            '[data-testid="user-module"][data-module="Billing"] [data-level="none"]'
        ).count()
        == 1
    )
    screenshot(page, "contractor_journey-2-modules-tab-granted")
    page.get_by_role("button", name="Sign out").click()

    login(page, "contractor")
    page.goto(reverse("catalog"))
    modules = page.locator('[data-testid="catalog-module"]')
    assert modules.count() == 1
    assert modules.first.get_attribute("data-module") == "OrdersAPI"
    assert modules.first.locator('[data-level="reference"]').inner_text() == "reference"
    assert modules.first.locator('[data-testid="exposed-element"] code').all_inner_texts() == [
        "GetOrder",
        "PlaceOrder",
    ]
    screenshot(page, "contractor_journey-3-catalog")

    modules.first.get_by_role("link", name="OrdersAPI").click()
    page.wait_for_url(re.compile(rf"/modules/{api.pk}/$"))
    assert "GetOrder" in page.locator('[data-testid="interface"]').inner_text()

    response = page.goto(reverse("module_source", args=[api.pk, 1]))
    assert response.status == 403
    assert "Ask an administrator" in page.content()
    screenshot(page, "contractor_journey-4-source-refused")


def test_administrator_sees_why_the_contractor_has_a_level(browser_page, world, publish):
    page = browser_page
    api = _modules(world, publish)
    team = services.team_create(
        actor=world.acme_admin,
        infrastructure=world.acme,
        name="Contractors",
        level=Level.REFERENCE,
        members=[world.contractor],
        modules=[api],
    )
    services.grant_set(actor=world.acme_admin, module=api, user=world.contractor, level=Level.OPEN)

    login(page, "acme_admin")
    page.goto(reverse("module_permissions", args=[api.pk]))
    row = page.locator('[data-testid="permission-row"][data-username="contractor"]')
    assert row.locator('[data-level="open"]').count() == 1
    assert "team Contractors (reference)" in row.inner_text()
    screenshot(page, "contractor_journey-5-module-permissions")

    row.get_by_role("link", name="why?").click()
    assert page.locator('[data-testid="winner"]').inner_text() == "grant by acme_admin"
    assert page.locator('[data-testid="source"]').count() == 3  # default, team, grant
    screenshot(page, "contractor_journey-6-explain")

    page.goto(reverse("teams", args=[world.acme.pk]))
    page.get_by_role("link", name=re.compile("Contractors")).click()
    members = page.get_by_test_id("team-member")
    assert members.count() == 1 and members.first.get_attribute("data-username") == "contractor"
    assert page.get_by_test_id("team-module").count() == 1
    screenshot(page, "contractor_journey-7-team")
    assert team.pk

    page.goto(reverse("infrastructure_users", args=[world.acme.pk]))
    assert page.locator('[data-testid="member"]').count() == 3
    screenshot(page, "contractor_journey-8-users")
