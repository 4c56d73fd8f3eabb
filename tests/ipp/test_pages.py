"""The ipp pages: support toggles, copy, preflight and troubleshooting."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEntry
from core.errors import IPP_MESSAGE
from registry.models import Infrastructure
from tests import factories
from tests.ipp.conftest import publish_via_api
from tests.ipp.helpers import sealed_bytes


@pytest.fixture
def as_user(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def marked(world, publish, customer_core):
    manifest, files = customer_core
    return publish(world.developer, world.acme_dev_env, manifest, files).version


# --- toggles ---------------------------------------------------------------------------


def test_support_sees_both_switches_with_a_confirmation_on_the_infrastructure_page(world, as_user):
    page = as_user(world.support).get(reverse("infrastructure", args=[world.acme.pk]))
    html = page.content.decode()
    assert 'data-testid="toggle-protection"' in html and 'data-testid="toggle-portal"' in html
    assert "Turn IPP protection off" in html and 'class="modal fade"' in html


def test_administrators_see_no_switches(world, as_user):
    page = as_user(world.acme_admin).get(reverse("infrastructure", args=[world.acme.pk]))
    assert page.status_code == 200
    assert 'data-testid="ipp-toggles"' not in page.content.decode()


def test_support_turns_protection_off_and_the_change_is_audited_with_from_and_to(world, as_user):
    url = reverse("ipp:toggle", args=[world.acme.pk])
    response = as_user(world.support).post(
        url, {"flag": "ipp_protected", "value": "0"}, follow=True
    )
    assert response.status_code == 200
    assert "now unprotected" in response.content.decode()
    assert Infrastructure.objects.get(pk=world.acme.pk).ipp_protected is False
    entry = AuditEntry.objects.get(action="ipp.protection_changed")
    assert entry.details == {"from": True, "to": False}
    assert entry.actor == world.support


def test_support_blocks_the_portal_and_it_is_audited(world, as_user):
    as_user(world.support).post(
        reverse("ipp:toggle", args=[world.emca.pk]), {"flag": "portal_blocked", "value": "1"}
    )
    assert Infrastructure.objects.get(pk=world.emca.pk).portal_blocked is True
    assert AuditEntry.objects.get(action="ipp.portal_blocked").details == {
        "from": False,
        "to": True,
    }


@pytest.mark.parametrize(
    "persona,status",
    [
        ("acme_admin", 403),
        ("developer", 403),
        ("contractor", 403),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_only_support_may_toggle(world, as_user, persona, status):
    user = world.personas()[persona]
    response = as_user(user).post(
        reverse("ipp:toggle", args=[world.acme.pk]), {"flag": "ipp_protected", "value": "0"}
    )
    assert response.status_code == status
    assert Infrastructure.objects.get(pk=world.acme.pk).ipp_protected is True
    assert not AuditEntry.objects.filter(action="ipp.protection_changed").exists()


def test_toggle_is_post_only(world, as_user):
    assert (
        as_user(world.support).get(reverse("ipp:toggle", args=[world.acme.pk])).status_code == 405
    )


# --- copy page -------------------------------------------------------------------------


def test_copy_page_offers_the_versions_elements_and_publishable_targets(
    world, as_user, publish, marked
):
    publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="Orders", exposes=[]),
        {"o.txt": b"o"},
    )
    page = as_user(world.developer).get(reverse("ipp:copy", args=[marked.module.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "GetCustomer" in html and "Orders (ACME)" in html
    assert 'data-testid="copy-marked-note"' in html


def test_copy_page_copies_and_redirects_to_the_target(world, as_user, publish, marked):
    orders = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="Orders", exposes=[]),
        {"o.txt": b"o"},
    )
    client = as_user(world.developer)
    url = reverse("ipp:copy", args=[marked.module.pk])
    body = {
        "version": 1,
        "elements": ["GetCustomer"],
        "target": orders.module.pk,
        "environment": world.acme_dev_env.pk,
    }
    review = client.post(url, body)
    assert review.status_code == 200
    assert 'data-testid="copy-confirm"' in review.content.decode()
    assert orders.module.versions.count() == 1  # nothing copied before the confirmation

    response = client.post(url, {**body, "confirmed": "1"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("module", args=[orders.module.pk])
    assert "Copied GetCustomer into Orders v2, deployed in ACME / Development" in (
        response.content.decode()
    )


def test_copy_page_without_targets_shows_an_empty_state(world, as_user, marked):
    page = as_user(world.developer).get(reverse("ipp:copy", args=[marked.module.pk]))
    assert 'data-testid="copy-no-targets"' in page.content.decode()


def test_copy_page_is_invisible_to_users_without_a_level(world, as_user, marked):
    assert (
        as_user(world.contractor).get(reverse("ipp:copy", args=[marked.module.pk])).status_code
        == 404
    )


# --- preflight page --------------------------------------------------------------------


def test_preflight_page_shows_an_empty_state_then_the_verdicts(world, as_user, marked):
    factories.make_member(world.emca, world.developer, create_modules=True)
    client = as_user(world.developer)
    url = reverse("ipp:preflight", args=[world.emca_dev_env.pk])
    assert 'data-testid="preflight-empty"' in client.get(url).content.decode()

    response = client.post(url, {"versions": [marked.pk]})

    html = response.content.decode()
    assert "invalid_intellectual_property" in html
    assert IPP_MESSAGE in html
    assert not AuditEntry.objects.filter(action="module.publish_refused").exists()


def test_preflight_page_checks_an_uploaded_sealed_package(world, as_user, marked):
    data = SimpleUploadedFile(
        "CustomerCore-v1.zip", sealed_bytes(marked), content_type="application/zip"
    )
    response = as_user(world.acme_admin).post(
        reverse("ipp:preflight", args=[world.acme_prod_env.pk]), {"package": data}
    )
    assert "sealed; its mark is kept" in response.content.decode()


def test_preflight_page_needs_something_to_check(world, as_user):
    response = as_user(world.developer).post(
        reverse("ipp:preflight", args=[world.acme_prod_env.pk]), {}
    )
    assert response.status_code == 400
    assert "Choose at least one version" in response.content.decode()


def test_preflight_page_is_invisible_outside_the_users_infrastructures(world, as_user):
    assert (
        as_user(world.outsider)
        .get(reverse("ipp:preflight", args=[world.acme_prod_env.pk]))
        .status_code
        == 404
    )


# --- troubleshooting -------------------------------------------------------------------


def test_troubleshooting_explains_the_marks_and_codes_for_a_module_and_environment(
    world, as_user, marked
):
    factories.make_member(world.emca, world.developer)
    url = (
        reverse("ipp:troubleshoot")
        + f"?module={marked.module.pk}&environment={world.emca_dev_env.pk}"
    )
    html = as_user(world.developer).get(url).content.decode()
    assert IPP_MESSAGE in html
    assert world.acme.activation_code in html and world.emca.activation_code in html
    assert marked.mark["key_id"] in html
    assert "is refused in Development" in html
    assert "It carries an IPP mark for another infrastructure." in html


def test_troubleshooting_hides_modules_the_user_cannot_see(world, as_user, marked):
    url = reverse("ipp:troubleshoot") + f"?module={marked.module.pk}"
    html = as_user(world.emca_admin).get(url).content.decode()
    assert "CustomerCore" not in html
    assert 'data-testid="no-refusals"' in html


def test_troubleshooting_lists_the_users_own_refusals(world, api, as_user, marked):
    publish_via_api(api(world.emca_admin), world.emca_dev_env, sealed_bytes(marked))
    html = as_user(world.emca_admin).get(reverse("ipp:troubleshoot")).content.decode()
    assert 'data-testid="refusals"' in html and "foreign_mark" in html
    # EMCA's administrator learns why, not ACME's activation code.
    assert world.acme.activation_code not in html


def test_troubleshooting_needs_sign_in(client):
    response = client.get(reverse("ipp:troubleshoot"))
    assert response.status_code == 302


def test_troubleshooting_explains_the_users_last_refusal(world, api, as_user, marked):
    publish_via_api(api(world.emca_admin), world.emca_dev_env, sealed_bytes(marked))
    html = as_user(world.emca_admin).get(reverse("ipp:troubleshoot")).content.decode()
    assert 'data-testid="last-refusal"' in html
    assert "It carries an IPP mark for another infrastructure." in html
