"""The invitation story in a real browser: ACME's administrator invites someone by e-mail
from the Users page and sees the link once; the invitee opens it, chooses a username and
password and lands in ACME signed in; the link then no longer works; a second invitation
is revoked from the pending list. axe-core finds nothing serious on the pages met.

Screenshots go to test-artifacts/screenshots/invitation-*.png.
"""

import pytest

from registry.models import Membership
from tests.browser.conftest import login, screenshot
from tests.browser.crawl import CrawlReport, _axe, _overflow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
pytest.importorskip("axe_playwright_python", reason="needs axe-playwright-python")

PASSWORD = "a-long-enough-passphrase-42"


@pytest.fixture
def new_page(_chromium, live_server):
    contexts = []

    def _page():
        context = _chromium.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}, locale="en-US"
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield _page
    for context in contexts:
        context.close()


def _check(page, report: CrawlReport, name: str) -> None:
    _axe(page, page.url, report)
    _overflow(page, page.url, report, {"width": 1280, "height": 900})
    screenshot(page, f"invitation-{name}")


def _invite(admin, world, email: str) -> str:
    admin.goto(f"/infrastructures/{world.acme.pk}/users/")
    admin.click("[data-testid=invite-link]")
    admin.fill("#id_email", email)
    admin.select_option("#id_default_level", label="open")
    admin.get_by_role("button", name="Send invitation").click()
    return admin.get_by_test_id("invitation-url").input_value()


def test_an_invited_person_joins_and_the_link_then_stops_working(world, new_page, live_server):
    report = CrawlReport()
    admin = new_page()
    login(admin, "acme_admin")
    url = _invite(admin, world, "new.dev@example.test")
    assert url.startswith(live_server.url + "/invitations/")
    _check(admin, report, "sent")
    admin.goto(f"/infrastructures/{world.acme.pk}/users/")
    assert admin.get_by_test_id("invitation").get_attribute("data-email") == "new.dev@example.test"
    _check(admin, report, "pending")

    invitee = new_page()
    invitee.goto(url)
    _check(invitee, report, "accept")
    invitee.fill("#id_username", "newdev")
    invitee.fill("#id_password1", PASSWORD)
    invitee.fill("#id_password2", PASSWORD)
    invitee.get_by_role("button", name="Create my account and join").click()
    invitee.wait_for_url(f"**/infrastructures/{world.acme.pk}/")
    assert "Welcome to ACME" in invitee.content()
    assert invitee.get_by_test_id("whoami").inner_text().startswith("newdev")
    membership = Membership.objects.get(user__username="newdev", infrastructure=world.acme)
    assert membership.default_level == 2 and membership.role == "member"

    stranger = new_page()
    response = stranger.goto(url)
    assert response.status == 410
    assert "already been used" in stranger.get_by_test_id("invitation-gone").inner_text()
    _check(stranger, report, "used")

    second = _invite(admin, world, "other@example.test")
    admin.goto(f"/infrastructures/{world.acme.pk}/users/")
    admin.click("[data-testid=invitation-revoke]")
    assert "is revoked" in admin.get_by_test_id("message").inner_text()
    assert admin.get_by_test_id("invitation").count() == 0
    assert stranger.goto(second).status == 410
    assert "revoked" in stranger.get_by_test_id("invitation-gone").inner_text()

    assert not report.violations and not report.overflow, report.summary()
