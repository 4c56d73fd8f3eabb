"""What a keyboard and a screen reader user meets, in Chromium: the skip link, a focus
ring one can see, the checker the crawl relies on, and the scripts of the permission
pages (search as you type, ticking a whole page) working under the site's CSP.
"""

import io

import pytest
from django.core.management import call_command

from registry.models import Infrastructure, Membership, Module
from tests.browser.conftest import login, screenshot
from tests.browser.crawl import CrawlReport, _axe
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the 'playwright' Python package"
).expect
pytest.importorskip("axe_playwright_python", reason="needs axe-playwright-python")


@pytest.fixture
def demo():
    call_command("seed_demo", "--password", PASSWORD, stdout=io.StringIO())


def test_the_checker_reports_a_serious_violation_when_there_is_one(browser_page):
    page = browser_page
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><h1>Low contrast</h1>'
        '<p style="color:#bbb;background:#fff">grey on white</p></main></body></html>'
    )
    report = CrawlReport()
    _axe(page, "inline", report)
    assert [rule for _url, rule, *_ in report.violations] == ["color-contrast"]


def test_the_skip_link_is_the_first_stop_and_jumps_to_the_content(demo, browser_page):
    page = browser_page
    login(page, "acme-dev")
    page.keyboard.press("Tab")
    skip = page.get_by_test_id("skip-link")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 10  # visible once focused
    screenshot(page, "a11y-skip-link")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_the_focused_control_has_a_ring_of_at_least_two_pixels(demo, browser_page):
    page = browser_page
    login(page, "acme-dev")
    page.goto("/catalog/")
    page.locator("#id_q").focus()
    for selector in ("#id_q", "button[type=submit] >> text=Filter"):
        page.locator(selector).first.focus()
        style = page.locator(selector).first.evaluate(
            "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
        )
        assert style[0] != "none" and float(style[1].rstrip("px")) >= 2, (selector, style)
    screenshot(page, "a11y-focus-ring")


def test_the_member_picker_suggests_members_as_you_type(demo, browser_page):
    page = browser_page
    core = Module.objects.get(infrastructure__name="ACME", name="CustomerCore_API")
    login(page, "acme-admin")
    page.goto(f"/modules/{core.pk}/permissions/")
    page.locator("#id_user").press_sequentially("contr", delay=30)
    options = page.locator("#id_user-options option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "acme-contractor"
    expect(page.locator("#id_user-status")).to_have_text("One match is offered.")
    page.fill("#id_user", "acme-contractor")
    page.select_option("#id_level", "open")
    page.get_by_role("button", name="Save grant").click()
    expect(page.get_by_test_id("message")).to_contain_text("acme-contractor is granted open")
    screenshot(page, "a11y-member-picker")


def test_ticking_the_header_ticks_the_page_and_unticking_a_row_unticks_all_matching(
    demo, browser_page
):
    page = browser_page
    acme = Infrastructure.objects.get(name="ACME")
    contractor = Membership.objects.get(infrastructure=acme, user__username="acme-contractor")
    login(page, "acme-admin")
    page.goto(f"/infrastructures/{acme.pk}/users/{contractor.user_id}/modules/")
    rows = page.locator("input[name=modules]")
    page.get_by_test_id("tick-page").check()
    assert all(rows.nth(i).is_checked() for i in range(rows.count()))
    page.get_by_test_id("all-matching").check()
    rows.first.uncheck()
    expect(page.get_by_test_id("tick-page")).not_to_be_checked()
    expect(page.get_by_test_id("all-matching")).not_to_be_checked()
