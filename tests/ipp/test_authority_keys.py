"""The IPP authority: rotation keeps old marks valid, retirement refuses them."""

import base64
import uuid
from io import StringIO

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from core.errors import TamperedPackage
from ipp.authority import authority
from ipp.marks import sign_mark, verify_mark
from publishing.services import module_publish
from tests.ipp.helpers import package_upload, sealed_bytes

DIGEST = "a" * 64


def a_mark(code="ABCDE-FGHJK-MNPQR-STVWX-YZ012", key=None):
    return sign_mark(key=key or uuid.uuid4(), digest=DIGEST, activation_code=code, epoch=1)


def test_a_mark_carries_every_field_and_verifies(db):
    key = uuid.uuid4()
    mark = a_mark(key=key)
    assert set(mark) == {
        "activation_code",
        "key",
        "digest",
        "epoch",
        "issued_at",
        "key_id",
        "signature",
    }
    assert mark["key_id"] == authority().current_id
    assert mark["issued_at"].endswith("Z")
    verify_mark(mark, key=key, digest=DIGEST)


def test_a_mark_for_other_content_or_module_is_refused(db):
    mark = a_mark()
    with pytest.raises(TamperedPackage):
        verify_mark(mark, digest="b" * 64)
    with pytest.raises(TamperedPackage):
        verify_mark(mark, key=uuid.uuid4())


def test_rotate_command_signs_with_a_new_key_and_old_marks_still_verify(db):
    old_mark = a_mark()
    out = StringIO()

    call_command("ipp_rotate_key", stdout=out)

    new_mark = a_mark()
    assert new_mark["key_id"] != old_mark["key_id"]
    assert "rotated" in out.getvalue()
    verify_mark(old_mark)
    verify_mark(new_mark)


def test_retire_command_makes_marks_signed_by_that_key_tampered(db):
    old_mark = a_mark()
    call_command("ipp_rotate_key", stdout=StringIO())
    out = StringIO()

    call_command("ipp_retire_key", old_mark["key_id"], stdout=out)

    assert "retired" in out.getvalue()
    with pytest.raises(TamperedPackage):
        verify_mark(old_mark)
    verify_mark(a_mark())


def test_retire_command_refuses_the_current_and_unknown_keys(db):
    with pytest.raises(CommandError):
        call_command("ipp_retire_key", authority().current_id, stdout=StringIO())
    with pytest.raises(CommandError, match="unknown"):
        call_command("ipp_retire_key", "nosuchkey", stdout=StringIO())


def test_sealed_package_signed_by_a_retired_key_is_refused_as_tampered(
    world, publish, customer_core
):
    manifest, files = customer_core
    version = publish(world.developer, world.acme_dev_env, manifest, files).version
    data = sealed_bytes(version)
    call_command("ipp_rotate_key", stdout=StringIO())
    call_command("ipp_retire_key", version.mark["key_id"], stdout=StringIO())

    with pytest.raises(TamperedPackage):
        module_publish(
            user=world.acme_admin, environment=world.acme_prod_env, upload=package_upload(data)
        )


def test_sealed_package_signed_before_rotation_still_publishes(world, publish, customer_core):
    manifest, files = customer_core
    version = publish(world.developer, world.acme_dev_env, manifest, files).version
    data = sealed_bytes(version)
    call_command("ipp_rotate_key", stdout=StringIO())

    result = module_publish(
        user=world.acme_admin, environment=world.acme_prod_env, upload=package_upload(data)
    )

    assert result.version == version


def test_rotate_command_fails_when_keys_come_from_the_environment(db, monkeypatch):
    raw = base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()
    monkeypatch.setenv("IPP_AUTHORITY_KEYS", f"envkey:{raw}")
    with pytest.raises(CommandError, match="IPP_AUTHORITY_KEYS"):
        call_command("ipp_rotate_key", stdout=StringIO())
    assert a_mark()["key_id"] == "envkey"
