"""A tour of the foundation's pages on the demo data, one screenshot per page."""

import io

import pytest
from django.core.management import call_command

from registry.models import Environment, Infrastructure, Module
from tests.browser.conftest import login, screenshot
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the 'playwright' Python package"
).expect


@pytest.fixture
def demo():
    call_command("seed_demo", "--password", PASSWORD, stdout=io.StringIO())


def test_developer_tours_dashboard_infrastructure_environment_module_and_source(demo, browser_page):
    page = browser_page
    acme = Infrastructure.objects.get(name="ACME")
    core = Module.objects.get(infrastructure=acme, name="CustomerCore_API")
    test_env = Environment.objects.get(infrastructure=acme, name="Test")

    login(page, "acme-dev")
    expect(page.get_by_test_id("infrastructure-card")).to_have_count(1)
    screenshot(page, "tour-1-dashboard")

    page.goto(f"/infrastructures/{acme.pk}/")
    expect(page.get_by_test_id("activation-code")).to_have_value(acme.activation_code)
    screenshot(page, "tour-2-infrastructure")

    page.goto(f"/environments/{test_env.pk}/")
    expect(page.get_by_test_id("deployment-row")).to_have_count(3)
    screenshot(page, "tour-3-environment")

    page.goto(f"/modules/{core.pk}/")
    expect(page.get_by_test_id("exposed-element")).to_have_count(4)
    screenshot(page, "tour-4-module")

    page.goto(f"/modules/{core.pk}/versions/1/source/")
    expect(page.get_by_test_id("source-files").get_by_role("link")).to_have_count(3)
    screenshot(page, "tour-5-source-list")

    page.goto(f"/modules/{core.pk}/versions/1/source/Logic/GetCustomer.oml")
    expect(page.get_by_test_id("source-content")).to_contain_text("action GetCustomer")
    screenshot(page, "tour-6-source-file")


def test_contractor_sees_only_the_interface_of_the_api_module(demo, browser_page):
    page = browser_page
    core = Module.objects.get(infrastructure__name="ACME", name="CustomerCore_API")
    login(page, "acme-contractor")
    page.goto(f"/modules/{core.pk}/")
    expect(page.get_by_test_id("reference-only")).to_be_visible()
    expect(page.get_by_test_id("browse-source")).to_have_count(0)
    screenshot(page, "tour-7-contractor-module")
    response = page.goto(f"/modules/{core.pk}/versions/1/source/")
    assert response.status == 403
    screenshot(page, "tour-8-contractor-source-403")


def test_support_sees_the_infrastructure_settings(demo, browser_page):
    page = browser_page
    acme = Infrastructure.objects.get(name="ACME")
    login(page, "support")
    page.goto(f"/infrastructures/{acme.pk}/")
    expect(page.get_by_test_id("environment-form")).to_be_visible()
    screenshot(page, "tour-9-support-infrastructure")
