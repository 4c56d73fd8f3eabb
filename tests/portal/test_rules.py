"""Rule 7's consent, refusals and state machine, through the services."""

import io
import json
import uuid
import zipfile

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404

from audit.models import AuditEntry
from core.errors import Conflict, DomainError, NotAllowed, TamperedPackage, ValidationFailed
from ipp.sealing import build_sealed_package
from ipp.toggles import infrastructure_set_flags
from portal.models import TransferEvent, TransferRequest
from portal.services import (
    transfer_approve,
    transfer_cancel,
    transfer_package,
    transfer_reject,
    transfer_request,
)
from publishing.services import module_publish
from registry.models import Membership, Module
from registry.selectors import open_version_source
from tests import factories
from tests.portal.conftest import as_file, download


def _request(world, user, modules, code=None, **kwargs):
    return transfer_request(
        user=user,
        modules=modules,
        target_activation_code=code if code is not None else world.emca.activation_code,
        **kwargs,
    )


def _export(version) -> bytes:
    out = io.BytesIO()
    build_sealed_package(version=version, reader=open_version_source(version), out=out)
    return out.getvalue()


# --- consent -----------------------------------------------------------------------


def test_a_developer_cannot_approve_their_own_request(world, pending):
    with pytest.raises(NotAllowed, match="your own request"):
        transfer_approve(user=world.developer, transfer=pending)
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert pending.items.get().new_mark is None


def test_emca_admin_cannot_approve_acmes_request_to_emca(world, pending):
    with pytest.raises(NotAllowed):
        transfer_approve(user=world.emca_admin, transfer=pending)
    assert TransferRequest.objects.get(pk=pending.pk).status == "pending"


def test_emca_admin_does_not_even_see_acmes_request_to_another_infrastructure(world, customer_core):
    globex = factories.make_infrastructure("Globex")
    transfer = _request(world, world.developer, [customer_core.module_id], globex.activation_code)

    with pytest.raises(Http404):
        transfer_approve(user=world.emca_admin, transfer=transfer)


def test_support_sees_but_cannot_consent_for_acme(world, pending):
    with pytest.raises(NotAllowed):
        transfer_approve(user=world.support, transfer=pending)


def test_a_member_who_became_administrator_may_approve_a_pending_request(world, pending):
    Membership.objects.filter(infrastructure=world.acme, user=world.contractor).update(
        role="administrator"
    )
    assert transfer_approve(user=world.contractor, transfer=pending).status == "approved"


# --- who may ask -------------------------------------------------------------------


def test_a_contractor_without_a_level_gets_404_for_the_module(world, customer_core):
    with pytest.raises(Http404):
        _request(world, world.contractor, [customer_core.module_id])


def test_a_developer_with_only_open_may_not_request_a_transfer(world, publish):
    manifest = factories.manifest(key=str(uuid.uuid4()), name="AdminOwned", exposes=[])
    version = publish(world.acme_admin, world.acme_dev_env, manifest, {"a.oml": b"a"}).version

    with pytest.raises(PermissionDenied):
        _request(world, world.developer, [version.module_id])
    assert not TransferRequest.objects.exists()


def test_modules_of_two_infrastructures_need_two_requests(world, customer_core, emca_module):
    factories.make_member(world.emca, world.acme_admin, role="administrator")
    globex = factories.make_infrastructure("Globex")

    with pytest.raises(ValidationFailed, match="one infrastructure"):
        _request(
            world,
            world.acme_admin,
            [customer_core.module_id, emca_module.module_id],
            globex.activation_code,
        )


def test_a_module_without_a_version_cannot_be_transferred(world):
    module = Module.objects.create(infrastructure=world.acme, key=uuid.uuid4(), name="Empty")
    with pytest.raises(ValidationFailed, match="no published version"):
        _request(world, world.acme_admin, [module.pk])


def test_odc_modules_need_no_transfer(world, publish):
    odc = factories.make_infrastructure("Cloudy", platform="odc")
    env = factories.make_environment(odc, "Development")
    factories.make_member(odc, world.emca_admin, role="administrator")
    version = publish(
        world.emca_admin, env, factories.manifest(exposes=[]), {"a.oml": b"a"}
    ).version

    with pytest.raises(ValidationFailed, match="ODC"):
        _request(world, world.emca_admin, [version.module_id], world.acme.activation_code)


# --- destination code --------------------------------------------------------------


def test_an_unknown_destination_code_is_a_clear_400(world, customer_core):
    with pytest.raises(ValidationFailed) as refused:
        _request(world, world.developer, [customer_core.module_id], "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE")
    assert refused.value.status == 400
    assert (
        str(refused.value) == "no infrastructure has activation code AAAAA-BBBBB-CCCCC-DDDDD-EEEEE"
    )


def test_the_destination_code_is_read_case_and_space_insensitively(world, customer_core):
    transfer = _request(
        world,
        world.developer,
        [customer_core.module_id],
        f"  {world.emca.activation_code.lower()} ",
    )
    assert transfer.destination == world.emca


def test_the_sources_own_code_is_refused(world, customer_core):
    with pytest.raises(ValidationFailed, match="already are"):
        _request(world, world.developer, [customer_core.module_id], world.acme.activation_code)
    assert not TransferRequest.objects.exists()


def test_the_database_refuses_a_request_to_its_own_source(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRequest.objects.create(
            source=world.acme,
            destination=world.acme,
            destination_code=world.acme.activation_code,
            requester=world.developer,
        )


def test_the_database_refuses_a_decided_request_without_a_decider(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRequest.objects.create(
            source=world.acme,
            destination=world.emca,
            destination_code=world.emca.activation_code,
            requester=world.developer,
            status="approved",
        )


# --- blocked portal ----------------------------------------------------------------


def test_a_blocked_portal_refuses_new_requests_and_audits_the_refusal(world, customer_core):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)

    with pytest.raises(DomainError) as refused:
        _request(world, world.developer, [customer_core.module_id])

    assert (refused.value.code, refused.value.status) == ("ipp_portal_blocked", 403)
    assert not TransferRequest.objects.exists()
    entries = AuditEntry.objects.filter(action="transfer.refused")
    # In ACME's log and in EMCA's, the destination the request named.
    assert sorted(entries.values_list("log_id", flat=True)) == sorted(
        [str(world.acme.pk), str(world.emca.pk)]
    )
    for entry in entries:
        assert entry.infrastructure == world.acme
        assert entry.also == world.emca
        assert entry.actor == world.developer
        assert entry.details["reason"] == "ipp_portal_blocked"


def test_a_blocked_portal_refuses_even_an_administrators_request(world, customer_core):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    with pytest.raises(DomainError, match="blocked"):
        _request(world, world.acme_admin, [customer_core.module_id])


def test_a_blocked_portal_stops_approval_of_a_pending_request(world, pending):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)

    with pytest.raises(DomainError) as refused:
        transfer_approve(user=world.acme_admin, transfer=pending)

    assert refused.value.code == "ipp_portal_blocked"
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert pending.items.get().new_mark is None
    assert pending.events.filter(kind=TransferEvent.Kind.REFUSED).count() == 1
    assert AuditEntry.objects.filter(action="transfer.refused", subject_id=str(pending.pk)).exists()


def test_approval_works_again_once_support_unblocks_the_portal(world, pending):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=False)
    assert transfer_approve(user=world.acme_admin, transfer=pending).status == "approved"


def test_a_blocked_portal_does_not_stop_a_rejection(world, pending):
    infrastructure_set_flags(actor=world.support, infrastructure=world.acme, portal_blocked=True)
    assert transfer_reject(user=world.acme_admin, transfer=pending).status == "rejected"


# --- the state machine -------------------------------------------------------------


def test_a_second_decision_on_a_decided_request_is_a_conflict(world, pending):
    transfer_approve(user=world.acme_admin, transfer=pending)

    for decide, user in [
        (transfer_approve, world.acme_admin),
        (transfer_reject, world.acme_admin),
        (transfer_cancel, world.developer),
    ]:
        with pytest.raises(Conflict, match="already approved"):
            decide(user=user, transfer=pending)
    # requested and approved, each in ACME's log and EMCA's
    assert AuditEntry.objects.filter(action__startswith="transfer.").count() == 4


def test_the_requester_may_cancel_a_pending_request(world, pending):
    cancelled = transfer_cancel(user=world.developer, transfer=pending)
    assert cancelled.status == "cancelled"
    assert cancelled.decided_by == world.developer
    assert (
        AuditEntry.objects.filter(action="transfer.cancelled", log=str(world.acme.pk)).count() == 1
    )
    assert (
        AuditEntry.objects.filter(action="transfer.cancelled", log=str(world.emca.pk)).count() == 1
    )
    with pytest.raises(Conflict):
        transfer_approve(user=world.acme_admin, transfer=pending)


def test_only_the_requester_may_cancel(world, pending):
    with pytest.raises(NotAllowed):
        transfer_cancel(user=world.acme_admin, transfer=pending)


def test_a_rejection_keeps_its_reason_on_the_timeline(world, pending):
    rejected = transfer_reject(user=world.acme_admin, transfer=pending, reason="not for EMCA")
    assert rejected.status == "rejected"
    assert "not for EMCA" in rejected.events.get(kind="rejected").message
    for entry in AuditEntry.objects.filter(action="transfer.rejected"):
        assert entry.details["reason"] == "not for EMCA"
    assert AuditEntry.objects.filter(action="transfer.rejected").count() == 2


# --- packages ----------------------------------------------------------------------


def test_there_is_no_package_before_approval(world, pending, customer_core):
    with pytest.raises(Conflict, match="pending"):
        transfer_package(user=world.developer, transfer=pending, module=customer_core.module_id)


def test_only_the_requester_and_destination_admins_may_download(world, pending, customer_core):
    transfer_approve(user=world.acme_admin, transfer=pending)
    module = customer_core.module_id
    assert download(transfer_package(user=world.developer, transfer=pending, module=module))
    assert download(transfer_package(user=world.emca_admin, transfer=pending, module=module))
    for user in (world.acme_admin, world.support):
        with pytest.raises(NotAllowed):
            transfer_package(user=user, transfer=pending, module=module)
    for user in (world.contractor, world.outsider):
        with pytest.raises(Http404):
            transfer_package(user=user, transfer=pending, module=module)
    downloads = AuditEntry.objects.filter(action="transfer.package_downloaded")
    assert downloads.filter(log=str(world.acme.pk)).count() == 2
    assert downloads.filter(log=str(world.emca.pk)).count() == 2


def test_a_module_not_in_the_request_has_no_package(world, pending, billing):
    transfer_approve(user=world.acme_admin, transfer=pending)
    with pytest.raises(Http404):
        transfer_package(user=world.developer, transfer=pending, module=billing.module_id)


def test_an_unmarked_version_gets_its_first_mark_through_the_portal(world, emca_module):
    transfer = _request(
        world, world.emca_admin, [emca_module.module_id], world.acme.activation_code
    )
    item = transfer.items.get()
    assert emca_module.mark is None
    assert item.epoch == 1
    assert item.new_mark["activation_code"] == world.acme.activation_code


def test_a_transferred_module_moves_on_with_the_next_epoch(world, pending, customer_core):
    transfer_approve(user=world.acme_admin, transfer=pending)
    data = download(
        transfer_package(user=world.emca_admin, transfer=pending, module=customer_core.module_id)
    )
    emca_version = module_publish(
        user=world.emca_admin, environment=world.emca_dev_env, upload=as_file(data)
    ).version
    globex = factories.make_infrastructure("Globex")

    onward = _request(world, world.emca_admin, [emca_version.module_id], globex.activation_code)

    assert onward.status == "approved"
    assert onward.items.get().new_mark["epoch"] == 3


# --- an uploaded marked package ----------------------------------------------------


def test_a_request_may_carry_an_exported_marked_package(world, customer_core):
    transfer = transfer_request(
        user=world.developer,
        package=as_file(_export(customer_core)),
        target_activation_code=world.emca.activation_code,
    )

    item = transfer.items.get()
    assert transfer.status == "pending"
    assert transfer.source == world.acme
    assert item.version == customer_core
    assert item.package_mark == customer_core.mark
    assert item.package_manifest["key"] == str(customer_core.module.key)
    transfer_approve(user=world.acme_admin, transfer=transfer)
    data = download(
        transfer_package(user=world.emca_admin, transfer=transfer, module=customer_core.module_id)
    )
    published = module_publish(
        user=world.emca_admin, environment=world.emca_dev_env, upload=as_file(data)
    )
    assert published.version.mark["epoch"] == 2


def test_an_unmarked_package_is_not_transferable(world):
    with pytest.raises(ValidationFailed, match="not marked"):
        transfer_request(
            user=world.developer,
            package=factories.package_file(),
            target_activation_code=world.emca.activation_code,
        )


def test_a_package_with_an_edited_mark_is_refused_as_tampered(world, customer_core):
    data = _export(customer_core)
    edited = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "mark.json":
                mark = json.loads(content)
                mark["epoch"] = 7
                content = json.dumps(mark, sort_keys=True, separators=(",", ":")).encode()
            dst.writestr(info, content)

    with pytest.raises(TamperedPackage):
        transfer_request(
            user=world.developer,
            package=as_file(edited.getvalue()),
            target_activation_code=world.emca.activation_code,
        )
    assert not TransferRequest.objects.exists()


def test_only_members_of_the_marks_infrastructure_may_transfer_its_package(world, customer_core):
    with pytest.raises(NotAllowed, match="not a member"):
        transfer_request(
            user=world.emca_admin,
            package=as_file(_export(customer_core)),
            target_activation_code=world.emca.activation_code,
        )


def test_modules_and_a_package_together_are_refused(world, customer_core):
    with pytest.raises(ValidationFailed):
        transfer_request(
            user=world.developer,
            modules=[customer_core.module_id],
            package=as_file(_export(customer_core)),
            target_activation_code=world.emca.activation_code,
        )


# --- notifications -----------------------------------------------------------------


def test_acme_admins_are_mailed_about_a_pending_request_and_the_requester_about_the_outcome(
    world, customer_core, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transfer = _request(world, world.developer, [customer_core.module_id], note="please")
    assert [m.to for m in mailoutbox] == [["acme_admin@example.test"]]
    assert "waits for your approval" in mailoutbox[0].subject
    assert f"/portal/{transfer.pk}/" in mailoutbox[0].body

    with django_capture_on_commit_callbacks(execute=True):
        transfer_reject(user=world.acme_admin, transfer=transfer, reason="no")
    assert mailoutbox[1].to == ["developer@example.test"]
    assert "rejected" in mailoutbox[1].subject


def test_an_administrators_own_request_mails_only_the_destinations_administrators(
    world, customer_core, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _request(world, world.acme_admin, [customer_core.module_id])
    assert [m.to for m in mailoutbox] == [["emca_admin@example.test"]]
    assert "ready to publish" in mailoutbox[0].subject


def test_an_approval_mails_the_requester_and_the_destinations_administrators(
    world, pending, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transfer_approve(user=world.acme_admin, transfer=pending)
    assert sorted(tuple(m.to) for m in mailoutbox) == [
        ("developer@example.test",),
        ("emca_admin@example.test",),
    ]
    to_requester = next(m for m in mailoutbox if m.to == ["developer@example.test"])
    assert "approved" in to_requester.subject
    assert f"/portal/{pending.pk}/" in to_requester.body


def test_a_refused_request_mails_nobody(
    world, customer_core, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationFailed):
        _request(world, world.developer, [customer_core.module_id], "nope")
    assert mailoutbox == []
