"""No dead ends, for every persona of the demo data: every link the site offers opens.

Each persona signs in, starts at the dashboard and follows every same-site link it is
offered (each URL pattern a few times). A link answering >= 400 is a defect (SPEC §8:
"a link that leads to 403 is a defect"); so is a serious or critical axe-core violation
or a page wider than a 390 px phone. One page load serves all three checks.
"""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from portal import services
from registry.models import Infrastructure, Module
from tests.browser.conftest import login, screenshot
from tests.browser.crawl import crawl, pattern
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
pytest.importorskip("axe_playwright_python", reason="the crawl needs axe-playwright-python")

User = get_user_model()
PERSONAS = ["support", "acme-admin", "acme-dev", "acme-contractor", "emca-admin"]


@pytest.fixture
def demo():
    """The demo data, plus a transfer waiting for ACME's approval (so the approvals inbox,
    the request's page and the dashboard's widget have something to show)."""
    call_command("seed_demo", "--password", PASSWORD, stdout=io.StringIO())
    developer = User.objects.get(username="acme-dev")
    services.transfer_request(
        user=developer,
        modules=[Module.objects.get(infrastructure__name="ACME", name="CustomerCore_API")],
        target_activation_code=Infrastructure.objects.get(name="EMCA").activation_code,
        note="For the EMCA integration",
    )


def test_patterns_group_urls_by_shape():
    assert pattern("http://x/modules/12/?page=3&q=x") == "/modules/#/?page&q"
    assert pattern("http://x/modules/7/") == pattern("http://x/modules/1234/")
    assert pattern("http://x/catalog/") != pattern("http://x/catalog/?page=2")


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_offered_link_opens_and_every_page_passes_axe(demo, browser_page, persona):
    page = browser_page
    login(page, persona)
    report = crawl(page, "/")
    print(report.summary())
    screenshot(page, f"crawl-{persona}-last")
    assert len(report.visited) > 5, report.summary()
    assert not report.broken, report.summary()
    assert not report.violations, report.summary()
    assert not report.overflow, report.summary()
