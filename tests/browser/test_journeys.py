"""Key journeys in a real browser: publish with upload progress, source browsing, hiding."""

import json
import os
import re

import pytest

from registry.models import Module
from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need the 'playwright' Python package"
).expect

# Records every value the progress bar shows, in sessionStorage so it survives the
# navigation to the module page.
RECORD_PROGRESS = """
() => {
  sessionStorage.setItem("progress", "[]");
  const bar = document.querySelector("[data-upload-progress]");
  new MutationObserver(() => {
    const seen = JSON.parse(sessionStorage.getItem("progress"));
    seen.push(Number(bar.getAttribute("aria-valuenow")));
    sessionStorage.setItem("progress", JSON.stringify(seen));
  }).observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
}
"""

BAR_IS_FULL = """
() => {
  const bar = document.querySelector("[data-testid=upload-progress-bar]");
  return bar.getBoundingClientRect().width >= bar.parentElement.getBoundingClientRect().width - 1;
}
"""


def test_developer_publishes_a_package_and_reads_its_source(world, browser_page, tmp_path):
    page = browser_page
    package = tmp_path / "CustomerCore.zip"
    package.write_bytes(
        factories.package_bytes(
            factories.manifest(name="CustomerCore"),
            {
                "Logic/GetCustomer.oml": b"-- secret logic of GetCustomer --\nreturn 42\n",
                "Resources/payload.bin": os.urandom(3 * 1024 * 1024),
            },
        )
    )
    login(page, "developer")
    page.get_by_role("link", name="ACME").first.click()
    page.get_by_role("link", name=re.compile(r"^Development")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Development")
    expect(page.get_by_test_id("empty-deployments")).to_be_visible()

    page.set_input_files("input[name=package]", str(package))
    page.evaluate(RECORD_PROGRESS)
    page.get_by_role("button", name="Upload and publish").click()
    expect(page.get_by_test_id("upload-progress-bar")).to_have_text("100%")
    page.wait_for_function(BAR_IS_FULL)  # Bootstrap animates the width
    screenshot(page, "publish_progress_at_100")

    page.wait_for_url(re.compile(r"/modules/\d+/$"))
    seen = json.loads(page.evaluate("sessionStorage.getItem('progress')"))
    assert seen and seen[-1] == 100 and seen == sorted(seen)
    expect(page.get_by_test_id("module-name")).to_have_text("CustomerCore")
    expect(page.get_by_test_id("message").first).to_contain_text("Published CustomerCore v1")
    expect(page.get_by_test_id("exposed-element")).to_contain_text("GetCustomer")

    page.get_by_role("link", name="Browse source of v1").click()
    page.get_by_role("link", name="Logic/GetCustomer.oml").click()
    expect(page.get_by_test_id("source-content")).to_contain_text(
        "-- secret logic of GetCustomer --"
    )
    assert Module.objects.filter(name="CustomerCore", infrastructure=world.acme).count() == 1


def test_invalid_package_shows_the_error_on_the_page(world, browser_page, tmp_path):
    page = browser_page
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"definitely not a zip")
    login(page, "developer")
    page.goto(f"/environments/{world.acme_dev_env.pk}/")
    page.set_input_files("input[name=package]", str(bad))
    page.get_by_role("button", name="Upload and publish").click()
    expect(page.get_by_test_id("upload-error")).to_contain_text("Not published.")
    expect(page.get_by_role("button", name="Upload and publish")).to_be_enabled()
    assert re.search(r"/environments/\d+/$", page.url)
    assert not Module.objects.exists()


def test_contractor_without_a_level_does_not_see_the_module(world, publish, browser_page):
    module = publish(world.developer, world.acme_dev_env).module
    page = browser_page
    login(page, "contractor")
    page.goto(f"/environments/{world.acme_dev_env.pk}/")
    expect(page.get_by_test_id("empty-deployments")).to_be_visible()
    expect(page.get_by_text("CustomerCore")).to_have_count(0)
    response = page.goto(f"/modules/{module.pk}/")
    assert response.status == 404
