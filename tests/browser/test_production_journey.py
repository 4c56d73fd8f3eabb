"""The Production story in a real browser: ACME's administrator protects Production and
names the developer a deployer (searching the members as they type); the developer,
refused before, then deploys there from the module page.

Screenshots go to test-artifacts/screenshots/production-*.png.
"""

import uuid

import pytest

from registry.models import Deployment, Environment
from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sign_in(_chromium, live_server):
    contexts = []

    def _sign_in(username: str):
        context = _chromium.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        login(page, username)
        return page

    yield _sign_in
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    screenshot(page, f"production-{name}")


def test_production_is_protected_and_the_developer_deploys_once_named(world, publish, sign_in):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    version = publish(world.developer, world.acme_dev_env, manifest).version
    production = world.acme_prod_env

    # The administrator protects Production, after the confirmation.
    admin = sign_in("acme_admin")
    admin.goto(f"/environments/{production.pk}/")
    admin.click("[data-testid=toggle-environment-protection]")
    admin.wait_for_selector("#environment-protection.show")
    admin.wait_for_timeout(300)  # the fade-in, for the screenshot
    shot(admin, "1-protect-confirmation")
    admin.click("[data-testid=confirm-environment-protection]")
    admin.wait_for_selector("[data-testid=protected-badge]")
    assert Environment.objects.get(pk=production.pk).protected

    # The developer is no longer offered Production, and the page says why.
    developer = sign_in("developer")
    developer.goto(f"/environments/{production.pk}/")
    developer.wait_for_selector("[data-testid=upload-protected]")
    developer.goto(f"/modules/{version.module_id}/")
    options = developer.eval_on_selector_all(
        "select[name=environment] option", "els => els.map(e => e.textContent)"
    )
    assert "ACME / Production" not in " ".join(options)
    shot(developer, "2-developer-not-offered")

    # The administrator names the developer, found by typing part of the name.
    admin.fill("#deployer-username", "dev")
    admin.wait_for_function(
        "() => [...document.querySelectorAll('#deployer-candidates option')]"
        ".some(o => o.value === 'developer')"
    )
    shot(admin, "3-member-search")
    admin.fill("#deployer-username", "developer")
    admin.click("[data-testid=add-deployer]")
    admin.wait_for_selector("[data-testid=deployer-row][data-username=developer]")
    shot(admin, "4-deployer-named")

    # Now the developer deploys to Production from the module page.
    developer.reload()
    developer.select_option("select[name=environment]", label="ACME / Production — protected")
    developer.click("[data-testid=deploy-form] button[type=submit]")
    developer.wait_for_selector("[data-testid=message]")
    assert "Deployed CustomerCore v1 to ACME / Production" in developer.inner_text(
        "[data-testid=message]"
    )
    assert Deployment.objects.filter(
        environment=production, version=version, is_current=True, deployed_by=world.developer
    ).exists()
    shot(developer, "5-deployed-to-production")
