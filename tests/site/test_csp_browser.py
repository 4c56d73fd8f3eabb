"""In Chromium, the policy blocks nothing the pages need, and the moved handlers still work."""

import pytest

from tests.browser.conftest import _chromium, browser_page, login  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_pages_run_with_no_csp_violation(browser_page, world, publish):  # noqa: F811
    page = browser_page
    violations = _watch_csp(page)
    module = publish(world.developer, world.acme_dev_env).module
    login(page, "acme_admin")

    for path in [
        "/",
        f"/infrastructures/{world.acme.pk}/",
        f"/environments/{world.acme_dev_env.pk}/",
        f"/modules/{module.pk}/",
        f"/infrastructures/{world.acme.pk}/users/{world.developer.pk}/modules/",
        "/account/tokens/",
        "/account/two-factor/",
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")

    assert violations == []


def test_the_tick_all_box_works_without_an_inline_handler(browser_page, world, publish):  # noqa: F811
    page = browser_page
    publish(world.developer, world.acme_dev_env)
    publish(world.developer, world.acme_dev_env)
    login(page, "acme_admin")
    page.goto(f"/infrastructures/{world.acme.pk}/users/{world.developer.pk}/modules/")

    page.locator("[data-check-all]").check()

    boxes = page.locator("input[name=modules]")
    assert boxes.count() == 2
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
