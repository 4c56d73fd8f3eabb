"""IPP in a real browser: EMCA's administrator uploads ACME's sealed package and is
refused with the exact message and a way to the troubleshooting page; support turns
ACME's protection off through the confirmation dialog.

Drives Debian's Chromium through Playwright against pytest-django's live server;
screenshots go to test-artifacts/screenshots/ipp-*.png.
"""

import pytest

from audit.models import AuditEntry
from core.errors import IPP_MESSAGE
from registry.models import Infrastructure, Module
from tests import factories
from tests.browser.conftest import login, screenshot
from tests.ipp.helpers import sealed_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    screenshot(page, f"ipp-{name}")


def test_emca_administrator_uploading_acmes_sealed_package_is_refused_and_pointed_to_help(
    world, publish, browser_page, tmp_path
):
    manifest = factories.manifest(name="CustomerCore")
    version = publish(
        world.developer, world.acme_dev_env, manifest, {"Logic/GetCustomer.oml": b"secret"}
    ).version
    package = tmp_path / "CustomerCore-v1.zip"
    package.write_bytes(sealed_bytes(version))

    page = browser_page
    login(page, world.emca_admin.username)
    page.goto(f"/environments/{world.emca_dev_env.pk}/")
    page.set_input_files("[data-testid=publish-form] input[type=file]", str(package))
    page.click("[data-testid=publish-form] button[type=submit]")
    error = page.locator("[data-testid=upload-error]")
    error.wait_for(state="visible")
    shot(page, "1-emca-upload-refused")

    assert IPP_MESSAGE in error.inner_text()
    assert not Module.objects.filter(infrastructure=world.emca).exists()
    assert AuditEntry.objects.filter(
        action="module.publish_refused", actor=world.emca_admin
    ).exists()

    error.get_by_text("What does this mean").click()
    page.wait_for_selector("[data-testid=ipp-message]")
    shot(page, "2-troubleshooting")
    assert page.locator("[data-testid=ipp-message]").inner_text().strip() == IPP_MESSAGE
    refusals = page.locator("[data-testid=refusals]").inner_text()
    assert "CustomerCore" in refusals and "foreign_mark" in refusals
    assert world.acme.activation_code not in refusals  # nothing of ACME leaks to EMCA


def test_support_turns_acme_protection_off_after_confirming(world, browser_page):
    page = browser_page
    login(page, world.support.username)
    page.goto(f"/infrastructures/{world.acme.pk}/")
    page.click("[data-testid=toggle-protection]")
    dialog = page.locator("#ipp-toggle-protection")
    dialog.wait_for(state="visible")
    shot(page, "3-support-confirm-unprotect")
    dialog.locator("[data-testid=confirm-protection]").click()
    page.wait_for_selector("[data-testid=message]")
    shot(page, "4-support-unprotected")

    assert "now unprotected" in page.locator("[data-testid=message]").inner_text()
    assert Infrastructure.objects.get(pk=world.acme.pk).ipp_protected is False
    assert AuditEntry.objects.get(action="ipp.protection_changed").details == {
        "from": True,
        "to": False,
    }
