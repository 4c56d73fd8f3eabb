"""The IPP portal in a real browser: request → approve → publish in EMCA in one step.

Uses the browser harness of tests/browser/conftest.py (Chromium, sign-in, screenshots);
each persona signs in in its own browser context. Screenshots of each step go to
test-artifacts/screenshots/portal-*.png.
"""

import uuid

import pytest

from portal.models import TransferRequest
from registry.models import ModuleVersion
from tests import factories
from tests.browser.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sign_in(_chromium, live_server):
    """sign_in(username) → a page in its own browser context (its own session), signed in."""
    contexts = []

    def _sign_in(username: str):
        context = _chromium.new_context(
            base_url=live_server.url,
            accept_downloads=True,
            viewport={"width": 1280, "height": 900},
            locale="en-US",
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
    screenshot(page, f"portal-{name}")


def test_a_module_moves_from_acme_to_emca_through_the_portal(world, publish, sign_in):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="CustomerCore")
    acme_version = publish(world.developer, world.acme_dev_env, manifest).version

    # The ACME developer asks for the transfer to EMCA's activation code.
    developer = sign_in("developer")
    developer.goto("/portal/new/")
    developer.get_by_label("ACME / CustomerCore").check()
    developer.fill("input[name=target_activation_code]", world.emca.activation_code)
    developer.fill("textarea[name=note]", "EMCA's customer portal needs CustomerCore")
    shot(developer, "1-request-form")
    developer.get_by_role("button", name="Request transfer").click()
    developer.wait_for_selector("[data-testid=status][data-status=pending]")
    transfer = TransferRequest.objects.get()
    assert developer.url.endswith(f"/portal/{transfer.pk}/")
    shot(developer, "2-request-pending")

    # ACME's administrator sees it waiting on the dashboard and approves it from the inbox.
    admin = sign_in("acme_admin")
    admin.click("[data-testid=pending-approvals]")
    admin.wait_for_selector(f"[data-testid=approval-row][data-transfer='{transfer.pk}']")
    shot(admin, "3-approvals-inbox")
    admin.click(f"[data-testid=approval-row][data-transfer='{transfer.pk}'] [data-testid=approve]")
    admin.wait_for_selector(f"#approve-{transfer.pk}.show")
    admin.wait_for_timeout(400)  # let the fade-in finish before the screenshot
    shot(admin, "4-approve-confirmation")
    admin.click(f"#approve-{transfer.pk} [data-testid=confirm-approve]")
    admin.wait_for_selector("[data-testid=empty-approvals]")
    assert TransferRequest.objects.get().status == "approved"

    # EMCA's administrator publishes the re-marked version from the transfer page, in one
    # step: nothing is downloaded or uploaded.
    emca = sign_in("emca_admin")
    emca.goto(f"/portal/{transfer.pk}/")
    emca.wait_for_selector("[data-testid=status][data-status=approved]")
    shot(emca, "5-approved-detail")
    form = emca.locator("[data-testid=publish-form]")
    form.get_by_label("Environment of EMCA").select_option(label=world.emca_dev_env.name)
    form.get_by_role("button", name="Publish CustomerCore").click()
    emca.wait_for_selector("[data-testid=event][data-kind=published]")
    assert "Published CustomerCore v1 in EMCA / Development" in emca.inner_text(
        "[data-testid=message]"
    )

    emca_version = ModuleVersion.objects.get(module__infrastructure=world.emca)
    assert emca_version.marked_code == world.emca.activation_code
    assert emca_version.mark["epoch"] == 2
    assert emca_version.deployments.get().environment == world.emca_dev_env
    acme_version.refresh_from_db()
    assert acme_version.marked_code == world.acme.activation_code

    # The timeline tells every step and ends with the publish at the destination.
    kinds = emca.eval_on_selector_all("[data-testid=event]", "els => els.map(e => e.dataset.kind)")
    assert kinds == ["requested", "approved", "packages_issued", "published"]
    last = emca.locator("[data-testid=event]").last.inner_text()
    assert "emca_admin published CustomerCore in EMCA / Development" in last
    shot(emca, "6-published-timeline")

    # The module page in EMCA shows the marked version deployed.
    emca.goto(f"/modules/{emca_version.module_id}/")
    emca.wait_for_selector("[data-testid=marked]")
    shot(emca, "7-published-in-emca")
