"""The transfer page's "Publish into environment …" and what a blocked portal looks like:
"blocked" (not "waiting") on the request page, the lists and the approvals, said once,
with help that explains blocking."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from ipp.toggles import infrastructure_set_flags
from permissions.deployers import deployer_add
from portal.services import transfer_approve
from registry.models import Environment, ModuleVersion
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def browse(world):
    def _client(persona: str) -> Client:
        client = Client()
        client.force_login(world.personas()[persona])
        return client

    return _client


@pytest.fixture
def approved(world, pending):
    return transfer_approve(user=world.acme_admin, transfer=pending)


@pytest.fixture
def blocked(world, pending):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    return pending


def detail(client, transfer) -> str:
    response = client.get(reverse("portal:detail", args=[transfer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def offered_environments(html: str) -> list[str]:
    select = re.search(r'<select[^>]*data-testid="publish-environment".*?</select>', html, re.S)
    return re.findall(r"<option[^>]*>([^<]+)</option>", select.group(0)) if select else []


# --- publish into environment … -----------------------------------------------------


def test_the_destination_admin_is_offered_every_destination_environment(world, browse, approved):
    html = detail(browse("emca_admin"), approved)
    assert 'data-testid="publish-form"' in html
    assert offered_environments(html) == ["Development", "Production"]


@pytest.mark.parametrize("persona", ["support", "acme_admin", "developer"])
def test_who_may_not_publish_at_the_destination_is_not_offered_it(world, browse, approved, persona):
    assert 'data-testid="publish-form"' not in detail(browse(persona), approved)


def test_nothing_is_offered_before_approval(world, browse, pending):
    assert 'data-testid="publish-form"' not in detail(browse("emca_admin"), pending)


def test_a_protected_destination_environment_is_labelled_or_left_out(world, browse, approved):
    Environment.objects.filter(pk=world.emca_prod_env.pk).update(protected=True)
    factories.make_member(world.emca, world.developer, create_modules=True)

    assert offered_environments(detail(browse("emca_admin"), approved)) == [
        "Development",
        "Production — protected",
    ]
    assert offered_environments(detail(browse("developer"), approved)) == ["Development"]
    deployer_add(actor=world.emca_admin, environment=world.emca_prod_env, user=world.developer)
    assert "Production — protected" in offered_environments(detail(browse("developer"), approved))


def test_publishing_from_the_page_ends_the_timeline_at_the_destination(
    world, browse, approved, customer_core
):
    client = browse("emca_admin")
    response = client.post(
        reverse("portal:publish", args=[approved.pk]),
        {"publish-module": customer_core.module_id, "publish-environment": world.emca_dev_env.pk},
        follow=True,
    )
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("portal:detail", args=[approved.pk])
    assert "Published CustomerCore v1 in EMCA / Development, marked for EMCA." in html
    kinds = re.findall(r'data-testid="event" data-kind="([a-z_]+)"', html)
    assert kinds[-1] == "published"
    assert ModuleVersion.objects.get(module__infrastructure=world.emca).mark["epoch"] == 2
    assert AuditEntry.objects.filter(action="transfer.published").count() == 1


def test_a_refused_publish_is_said_on_the_transfer_page(world, browse, approved, customer_core):
    Environment.objects.filter(pk=world.emca_prod_env.pk).update(protected=True)
    factories.make_member(world.emca, world.developer, create_modules=True)
    response = browse("developer").post(
        reverse("portal:publish", args=[approved.pk]),
        {"publish-module": customer_core.module_id, "publish-environment": world.emca_prod_env.pk},
    )
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-code="environment_protected"' in html
    assert html.count("Production of EMCA is protected") == 1
    assert not ModuleVersion.objects.filter(module__infrastructure=world.emca).exists()


# --- a blocked portal -----------------------------------------------------------------


def test_the_request_page_says_blocked_not_waiting(world, browse, blocked):
    for persona in ("developer", "acme_admin", "emca_admin", "support"):
        html = detail(browse(persona), blocked)
        assert 'data-blocked="true"' in html and ">blocked</span>" in html, persona
        assert "Waiting for an administrator" not in html, persona
        assert html.count('data-testid="blocked-note"') == 1, persona
        assert reverse("ipp:troubleshoot") + "#portal-blocked" in html, persona
        assert 'data-testid="approve"' not in html, persona


def test_the_request_page_still_waits_when_nothing_is_blocked(world, browse, pending):
    html = detail(browse("developer"), pending)
    assert 'data-testid="waiting-note"' in html and 'data-blocked="true"' not in html


def test_the_lists_and_approvals_say_blocked(world, browse, blocked):
    mine = browse("developer").get(reverse("portal:requests")).content.decode()
    others = browse("emca_admin").get(reverse("portal:requests")).content.decode()
    inbox = browse("acme_admin").get(reverse("portal:inbox")).content.decode()
    dashboard = browse("developer").get(reverse("dashboard")).content.decode()
    for page in (mine, others, inbox, dashboard):
        assert 'data-blocked="true"' in page
        assert 'data-status="pending">pending<' not in page
    assert 'data-testid="approve"' not in inbox
    assert reverse("ipp:troubleshoot") + "#portal-blocked" in inbox


def test_a_refused_approval_says_blocked_once_with_help(world, browse, blocked):
    response = browse("acme_admin").post(reverse("portal:approve", args=[blocked.pk]))
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-code="ipp_portal_blocked"' in html
    above_the_timeline = html.split('data-testid="timeline"')[0]  # the timeline records it
    assert above_the_timeline.count("IPP portal is blocked for ACME") == 1
    assert 'data-testid="blocked-note"' not in html
    assert reverse("ipp:troubleshoot") + "#portal-blocked" in html


def test_the_troubleshooting_page_explains_portal_blocking(world, browse):
    html = browse("developer").get(reverse("ipp:troubleshoot")).content.decode()
    section = re.search(r'id="portal-blocked".*?</div></div>', html, re.S).group(0)
    assert "The IPP portal is blocked" in section
    assert "cannot be approved" in section and "ask support to unblock" in section.lower()


def test_the_administrators_dashboard_says_blocked_not_waiting_for_approval(world, browse, blocked):
    html = browse("acme_admin").get(reverse("dashboard")).content.decode()
    widget = html.split('data-testid="portal-widget"')[1]
    assert 'data-testid="blocked-approvals"' in widget and "1 transfer request blocked" in (
        " ".join(re.sub(r"<[^>]+>", " ", widget).split())
    )
    assert "for your approval" not in widget
    assert widget.count(reverse("ipp:troubleshoot") + "#portal-blocked") == 1


def test_the_administrators_dashboard_still_asks_for_approval_when_not_blocked(
    world, browse, pending
):
    html = browse("acme_admin").get(reverse("dashboard")).content.decode()
    assert 'data-testid="pending-approvals"' in html and "blocked-approvals" not in html
