"""The portal's pages: request form, my requests, approvals inbox, detail with timeline."""

import io
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from ipp.sealing import build_sealed_package
from ipp.toggles import infrastructure_set_flags
from portal.models import TransferRequest
from portal.services import transfer_approve, transfer_publish, transfer_request
from registry.selectors import open_version_source
from tests import factories
from tests.permissions.conftest import make_module

PERSONAS = ["support", "acme_admin", "developer", "contractor", "emca_admin", "outsider"]


@pytest.fixture
def browse(world):
    """browse(persona) → a test client signed in as that persona."""

    def _client(persona: str) -> Client:
        client = Client()
        client.force_login(world.personas()[persona])
        return client

    return _client


def _text(html: str) -> str:
    """What a reader sees: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _pending(world, version) -> TransferRequest:
    return transfer_request(
        user=world.developer,
        modules=[version.module_id],
        target_activation_code=world.emca.activation_code,
    )


# --- the request form --------------------------------------------------------------


def test_the_form_offers_only_modules_the_user_may_publish(
    world, customer_core, billing, publish, browse
):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="AdminOwned", exposes=[])
    publish(world.acme_admin, world.acme_dev_env, manifest, {"a.oml": b"a"})

    def offered(persona):
        form = browse(persona).get(reverse("portal:new")).context["form"]
        return sorted(m.name for m in form.fields["modules"].queryset)

    assert offered("developer") == ["Billing", "CustomerCore"]
    assert offered("acme_admin") == ["AdminOwned", "Billing", "CustomerCore"]
    assert offered("contractor") == []
    assert offered("emca_admin") == []


def test_submitting_the_form_creates_a_pending_request_and_shows_it(world, customer_core, browse):
    client = browse("developer")
    reply = client.post(
        reverse("portal:new"),
        {
            "modules": [customer_core.module_id],
            "target_activation_code": world.emca.activation_code.lower(),
            "note": "EMCA needs it",
        },
        follow=True,
    )
    transfer = TransferRequest.objects.get()
    assert reply.redirect_chain[-1][0] == reverse("portal:detail", args=[transfer.pk])
    page = reply.content.decode()
    assert 'data-status="pending"' in page
    assert "an administrator of ACME has been asked to approve it" in page
    assert "EMCA needs it" in page


def test_an_unknown_code_is_shown_on_the_form(world, customer_core, browse):
    reply = browse("developer").post(
        reverse("portal:new"),
        {
            "modules": [customer_core.module_id],
            "target_activation_code": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE",
        },
    )
    assert reply.status_code == 400
    assert (
        "no infrastructure has activation code AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"
        in reply.content.decode()
    )
    assert not TransferRequest.objects.exists()


def test_a_blocked_portal_is_explained_with_a_link_to_the_troubleshooting_page(
    world, customer_core, browse
):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    reply = browse("developer").post(
        reverse("portal:new"),
        {
            "modules": [customer_core.module_id],
            "target_activation_code": world.emca.activation_code,
        },
    )
    page = reply.content.decode()
    assert reply.status_code == 403
    assert 'data-code="ipp_portal_blocked"' in page
    assert reverse("ipp:troubleshoot") + "#portal-blocked" in page
    assert page.count("The IPP portal is blocked for ACME") == 1  # said once


def test_choosing_nothing_is_refused(world, browse):
    reply = browse("developer").post(
        reverse("portal:new"), {"target_activation_code": world.emca.activation_code}
    )
    assert reply.status_code == 400
    assert "Choose at least one module" in reply.content.decode()


def test_the_form_uploads_a_marked_package(world, customer_core, browse):
    out = io.BytesIO()
    build_sealed_package(version=customer_core, reader=open_version_source(customer_core), out=out)
    reply = browse("developer").post(
        reverse("portal:new"),
        {
            "package": SimpleUploadedFile("cc.zip", out.getvalue(), "application/zip"),
            "target_activation_code": world.emca.activation_code,
        },
    )
    assert reply.status_code == 302
    assert TransferRequest.objects.get().items.get().package_mark == customer_core.mark


# --- lists ---------------------------------------------------------------------------


def test_my_requests_starts_empty_with_a_way_forward(world, browse):
    page = browse("developer").get(reverse("portal:requests")).content.decode()
    assert 'data-testid="empty-requests"' in page
    assert reverse("portal:new") in page


def test_the_inbox_shows_pending_requests_to_the_sources_administrators_only(
    world, customer_core, browse
):
    transfer = _pending(world, customer_core)
    admin_page = browse("acme_admin").get(reverse("portal:inbox")).content.decode()
    assert f'data-transfer="{transfer.pk}"' in admin_page
    assert reverse("portal:approve", args=[transfer.pk]) in admin_page
    for persona in ("developer", "emca_admin", "support"):
        page = browse(persona).get(reverse("portal:inbox")).content.decode()
        assert 'data-testid="empty-approvals"' in page, persona


def test_list_pages_cost_the_same_with_many_requests(
    world, customer_core, browse, django_assert_max_num_queries
):
    for _ in range(12):
        _pending(world, customer_core)
    admin, developer = browse("acme_admin"), browse("developer")
    with django_assert_max_num_queries(12):
        assert admin.get(reverse("portal:inbox")).status_code == 200
    with django_assert_max_num_queries(12):
        assert developer.get(reverse("portal:requests")).status_code == 200
    with django_assert_max_num_queries(14):
        assert admin.get(reverse("dashboard")).status_code == 200


# --- detail and actions --------------------------------------------------------------


def test_the_detail_page_tells_the_whole_story_on_its_timeline(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    browse("acme_admin").post(reverse("portal:approve", args=[transfer.pk]))
    emca = browse("emca_admin")
    assert (
        emca.get(reverse("portal:package", args=[transfer.pk, customer_core.module_id])).status_code
        == 200
    )

    page = emca.get(reverse("portal:detail", args=[transfer.pk])).content.decode()
    for kind in ("requested", "approved", "packages_issued", "downloaded"):
        assert f'data-kind="{kind}"' in page
    assert 'data-status="approved"' in page
    assert 'data-testid="download"' in page
    assert 'data-testid="publish-form"' in page

    emca.post(
        reverse("portal:publish", args=[transfer.pk]),
        {"publish-module": customer_core.module_id, "publish-environment": world.emca_dev_env.pk},
    )
    page = emca.get(reverse("portal:detail", args=[transfer.pk])).content.decode()
    kinds = re.findall(r'data-testid="event" data-kind="([a-z_]+)"', page)
    assert kinds == ["requested", "approved", "packages_issued", "downloaded", "published"]


def test_the_detail_page_offers_each_persona_only_their_actions(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    url = reverse("portal:detail", args=[transfer.pk])
    admin = browse("acme_admin").get(url).content.decode()
    mine = browse("developer").get(url).content.decode()
    emca = browse("emca_admin").get(url).content.decode()
    assert 'data-testid="approve"' in admin and 'data-testid="cancel"' not in admin
    assert 'data-testid="cancel"' in mine and 'data-testid="approve"' not in mine
    assert 'data-testid="approve"' not in emca and 'data-testid="cancel"' not in emca


def test_approving_a_decided_request_from_a_stale_page_says_so(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    admin = browse("acme_admin")
    admin.post(reverse("portal:approve", args=[transfer.pk]))
    reply = admin.post(reverse("portal:approve", args=[transfer.pk]))
    assert reply.status_code == 409
    assert "already approved" in reply.content.decode()


def test_the_dashboard_counts_pending_approvals_and_shows_my_outcomes(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    admin_page = browse("acme_admin").get(reverse("dashboard")).content.decode()
    assert 'data-testid="pending-approvals"' in admin_page
    assert "1 transfer request waits for your approval" in _text(admin_page)
    assert reverse("portal:inbox") in admin_page
    transfer_approve(user=world.acme_admin, transfer=transfer)
    mine = browse("developer").get(reverse("dashboard")).content.decode()
    assert 'data-testid="latest-requests"' in mine
    assert 'data-status="approved"' in mine
    assert (
        'data-testid="portal-widget"'
        not in browse("outsider").get(reverse("dashboard")).content.decode()
    )


def test_the_dashboard_tells_destination_admins_a_transfer_is_ready_until_they_download_it(
    world, customer_core, browse
):
    transfer = _pending(world, customer_core)
    transfer_approve(user=world.acme_admin, transfer=transfer)
    emca = browse("emca_admin")
    page = _text(emca.get(reverse("dashboard")).content.decode())
    assert "1 approved transfer into your infrastructures is ready to publish" in page

    emca.get(reverse("portal:package", args=[transfer.pk, customer_core.module_id]))
    page = emca.get(reverse("dashboard")).content.decode()
    assert 'data-testid="incoming-transfers"' not in page


def test_the_dashboard_stops_telling_once_the_transfer_is_published(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    transfer_approve(user=world.acme_admin, transfer=transfer)
    transfer_publish(
        user=world.emca_admin,
        transfer=transfer,
        module=customer_core.module_id,
        environment=world.emca_dev_env,
    )
    page = browse("emca_admin").get(reverse("dashboard")).content.decode()
    assert 'data-testid="incoming-transfers"' not in page


def test_the_requests_page_lists_requests_involving_my_infrastructures(
    world, customer_core, browse
):
    transfer = _pending(world, customer_core)
    row = f'data-testid="other-row" data-transfer="{transfer.pk}"'
    assert row in browse("emca_admin").get(reverse("portal:requests")).content.decode()
    assert row in browse("acme_admin").get(reverse("portal:requests")).content.decode()
    support = browse("support").get(reverse("portal:requests")).content.decode()
    assert row in support and "All requests" in support
    assert row not in browse("developer").get(reverse("portal:requests")).content.decode()
    assert row not in browse("outsider").get(reverse("portal:requests")).content.decode()


# --- the permission matrix -----------------------------------------------------------


def _matrix(browse, call) -> dict:
    return {persona: call(browse(persona)) for persona in PERSONAS}


def test_page_matrix_for_reading_a_request(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    url = reverse("portal:detail", args=[transfer.pk])
    assert _matrix(browse, lambda c: c.get(url).status_code) == {
        "support": 200,
        "acme_admin": 200,
        "developer": 200,
        "contractor": 404,
        "emca_admin": 200,
        "outsider": 404,
    }


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_page_matrix_for_deciding(world, customer_core, browse, action):
    def call(client):
        transfer = _pending(world, customer_core)
        return client.post(reverse(f"portal:{action}", args=[transfer.pk])).status_code

    assert _matrix(browse, call) == {
        "support": 403,
        "acme_admin": 302,
        "developer": 403,
        "contractor": 404,
        "emca_admin": 403,
        "outsider": 404,
    }


def test_page_matrix_for_cancelling(world, customer_core, browse):
    def call(client):
        transfer = _pending(world, customer_core)
        return client.post(reverse("portal:cancel", args=[transfer.pk])).status_code

    assert _matrix(browse, call) == {
        "support": 403,
        "acme_admin": 403,
        "developer": 302,
        "contractor": 404,
        "emca_admin": 403,
        "outsider": 404,
    }


def test_page_matrix_for_downloading(world, customer_core, browse):
    transfer = _pending(world, customer_core)
    transfer_approve(user=world.acme_admin, transfer=transfer)
    url = reverse("portal:package", args=[transfer.pk, customer_core.module_id])
    assert _matrix(browse, lambda c: c.get(url).status_code) == {
        "support": 403,
        "acme_admin": 403,
        "developer": 200,
        "contractor": 404,
        "emca_admin": 200,
        "outsider": 404,
    }


@pytest.mark.parametrize("name", ["portal:requests", "portal:new", "portal:inbox"])
def test_every_persona_reaches_the_portal_pages(world, browse, name):
    assert set(_matrix(browse, lambda c: c.get(reverse(name)).status_code).values()) == {200}


def test_anonymous_visitors_are_sent_to_sign_in(world, customer_core):
    transfer = _pending(world, customer_core)
    for url in [
        reverse("portal:requests"),
        reverse("portal:new"),
        reverse("portal:inbox"),
        reverse("portal:detail", args=[transfer.pk]),
        reverse("portal:package", args=[transfer.pk, customer_core.module_id]),
    ]:
        reply = Client().get(url)
        assert reply.status_code == 302 and reply["Location"].startswith(reverse("login")), url


def test_the_form_lists_fifty_modules_and_a_search_finds_the_others(world, browse):
    for i in range(60):
        make_module(world.acme, f"Mod{i:02d}")
    page = browse("acme_admin").get(reverse("portal:new")).content.decode()
    assert page.count('name="modules"') == 50
    assert 'data-testid="more-modules"' in page and 'data-testid="module-search"' in page
    assert "Mod59" not in page
    found = browse("acme_admin").get(reverse("portal:new"), {"q": "mod59"}).content.decode()
    assert found.count('name="modules"') == 1 and "ACME / Mod59" in found


def test_a_module_ticked_beyond_the_list_is_accepted_and_stays_ticked(world, browse):
    modules = [make_module(world.acme, f"Mod{i:02d}") for i in range(60)]
    last = modules[-1]
    response = browse("acme_admin").post(
        reverse("portal:new"), {"modules": [last.pk], "target_activation_code": "nope"}
    )
    html = response.content.decode()
    assert response.status_code in (400, 404, 409)
    assert f'value="{last.pk}" checked' in html.replace("\n", " ") or re.search(
        rf'value="{last.pk}"[^>]*checked', html
    )
