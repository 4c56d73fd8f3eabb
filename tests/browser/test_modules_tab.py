"""The Modules tab in Chromium: a grant changed on one row, then on every module matching
the filter at once ("all N matching"), as an administrator does it for a contractor.
"""

import io

import pytest
from django.core.management import call_command

from core.levels import Level
from permissions import door
from registry.models import Infrastructure, Membership, Module
from tests.browser.conftest import login, screenshot
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the 'playwright' Python package"
).expect


def test_an_administrator_changes_one_row_then_every_matching_module(browser_page):
    call_command("seed_demo", "--password", PASSWORD, stdout=io.StringIO())
    page = browser_page
    acme = Infrastructure.objects.get(name="ACME")
    contractor = Membership.objects.get(infrastructure=acme, user__username="acme-contractor").user
    billing = Module.objects.get(infrastructure=acme, name="Billing_API")
    login(page, "acme-admin")
    page.goto(f"/infrastructures/{acme.pk}/users/{contractor.pk}/modules/")

    row = page.locator("[data-testid=user-module][data-module=Billing_API]")
    row.get_by_test_id("row-level").select_option("open")
    row.get_by_test_id("row-save").click()
    expect(page.get_by_test_id("message")).to_contain_text("grant is now open on 1 module")
    assert door.effective_level(contractor, billing) == Level.OPEN

    page.fill("#id_q", "_API")
    page.get_by_role("button", name="Filter").click()
    matching = Module.objects.filter(infrastructure=acme, name__icontains="_api").count()
    expect(page.get_by_text(f"Apply to all {matching} module")).to_be_visible()
    page.get_by_test_id("all-matching").check()
    page.get_by_test_id("bulk-level").select_option("reference")
    page.get_by_test_id("bulk-submit").click()
    expect(page.get_by_test_id("message")).to_contain_text(
        "grant is now reference on every module matching the filter"
    )
    screenshot(page, "modules-tab-all-matching")
    assert "q=_API" in page.url  # the filter is kept
    api_modules = Module.objects.filter(infrastructure=acme, name__icontains="_api")
    assert all(door.effective_level(contractor, m) >= Level.REFERENCE for m in api_modules)
    assert door.effective_level(contractor, billing) == Level.REFERENCE  # its grant replaced
