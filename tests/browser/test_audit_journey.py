"""An administrator reads their infrastructure's audit log, checks its signed head and has it
verified in full; a developer is not offered the audit log at all."""

import io

import pytest
from django.core.management import call_command

from audit.models import LogVerification
from registry.models import Infrastructure
from tests.browser.conftest import login, screenshot
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the 'playwright' Python package"
).expect


@pytest.fixture
def demo():
    call_command("seed_demo", "--password", PASSWORD, stdout=io.StringIO())


def test_an_administrator_reads_and_verifies_their_log(demo, browser_page):
    page = browser_page
    acme = Infrastructure.objects.get(name="ACME")
    login(page, "acme-admin")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log: ACME")).to_be_visible()
    expect(page.get_by_test_id("head-signature")).to_have_text("signature valid")
    expect(page.get_by_test_id("verification")).to_contain_text("not been verified in full")
    expect(page.get_by_test_id("audit-entries")).to_contain_text("Infrastructure created")
    screenshot(page, "audit-1-log")

    page.get_by_test_id("verify-now").click()
    expect(page.get_by_test_id("message")).to_contain_text("Verified in full")
    expect(page.get_by_test_id("verification")).to_contain_text("every hash, head, signature")
    assert LogVerification.objects.get(log_id=str(acme.pk)).ok
    screenshot(page, "audit-2-verified")


def test_a_developer_is_not_offered_the_audit_log(demo, browser_page):
    page = browser_page
    login(page, "acme-dev")
    expect(page.get_by_role("link", name="Audit log")).to_have_count(0)
