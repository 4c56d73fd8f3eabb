"""Sealed packages: no source in clear, bound to mark and manifest, tamper-evident."""

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import IPP_MESSAGE, DomainError, InvalidIntellectualProperty, TamperedPackage
from ipp.marks import FIELDS, sign_mark
from publishing.services import module_publish
from registry.models import ModuleVersion
from tests import factories
from tests.ipp.conftest import SECRET, refusals
from tests.ipp.helpers import members, package_upload, rezip, sealed_bytes

NOT_500 = dict(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def marked(world, publish, customer_core):
    manifest, files = customer_core
    return publish(world.developer, world.acme_dev_env, manifest, files).version


@pytest.fixture
def sealed(marked):
    return sealed_bytes(marked)


def publish_into(world, env, data):
    return module_publish(
        user=world.acme_admin if env.infrastructure == world.acme else world.emca_admin,
        environment=env,
        upload=package_upload(data),
    )


def assert_refused(world, data, codes=("tampered_package", "invalid_package")):
    with pytest.raises(DomainError) as caught:
        publish_into(world, world.acme_prod_env, data)
    assert caught.value.code in codes, caught.value.detail
    return caught.value


def test_sealed_package_holds_manifest_mark_and_payload_but_no_source_in_clear(sealed, marked):
    contents = members(sealed)
    assert sorted(contents) == ["manifest.json", "mark.json", "sealed.bin"]
    assert json.loads(contents["mark.json"]) == marked.mark
    assert SECRET not in sealed
    assert b"GetCustomer.oml" not in contents["sealed.bin"]


def test_sealed_package_publishes_in_its_own_infrastructure_with_its_mark(world, sealed, marked):
    result = publish_into(world, world.acme_prod_env, sealed)
    assert result.version == marked
    assert result.deployment.environment == world.acme_prod_env


def test_a_re_marked_package_publishes_in_the_destination_keeping_the_new_mark(world, marked):
    """What the portal does after approval: a new mark (epoch 2) for EMCA, same content."""
    new_mark = sign_mark(
        key=marked.module.key,
        digest=marked.digest,
        activation_code=world.emca.activation_code,
        epoch=2,
    )
    data = sealed_bytes(marked, mark=new_mark)

    result = publish_into(world, world.emca_dev_env, data)

    assert result.version.module.infrastructure == world.emca
    assert result.version.mark == new_mark
    assert result.version.digest == marked.digest
    # And that package is refused back in ACME: it names EMCA now.
    with pytest.raises(InvalidIntellectualProperty):
        publish_into(world, world.acme_prod_env, data)


def test_refused_sealed_package_is_logged_even_though_the_publish_fails(world, sealed):
    with pytest.raises(InvalidIntellectualProperty) as caught:
        publish_into(world, world.emca_dev_env, sealed)
    assert caught.value.detail == IPP_MESSAGE
    entry = refusals().last()
    assert entry.infrastructure == world.emca
    assert entry.details["reason"] == "foreign_mark"
    assert world.acme.activation_code not in str(entry.details)


def test_removing_mark_json_leaves_nothing_publishable(world, sealed):
    contents = members(sealed)
    del contents["mark.json"]
    assert_refused(world, rezip(contents))


def test_truncated_payload_is_tampered(world, sealed):
    contents = members(sealed)
    contents["sealed.bin"] = contents["sealed.bin"][:-10]
    assert_refused(world, rezip(contents), codes=("tampered_package",))


def test_payload_cut_at_a_record_boundary_is_tampered(world, publish, customer_core):
    manifest, _ = customer_core
    big = {"Logic/Big.oml": bytes(range(256)) * 600}  # three records of data
    version = publish(world.developer, world.acme_dev_env, manifest, big).version
    contents = members(sealed_bytes(version))
    payload = contents["sealed.bin"]
    # Drop the final (end) record: its length header says where it starts.
    offset, last_start = 24, None
    while offset < len(payload):
        last_start = offset
        offset += 4 + int.from_bytes(payload[offset : offset + 4], "big")
    contents["sealed.bin"] = payload[:last_start]
    assert_refused(world, rezip(contents), codes=("tampered_package",))


def test_payload_swapped_from_another_package_is_tampered(world, publish, sealed):
    other_manifest = factories.manifest(name="Other")
    other = publish(
        world.developer, world.acme_dev_env, other_manifest, {"a.txt": b"other"}
    ).version
    contents = members(sealed)
    contents["sealed.bin"] = members(sealed_bytes(other))["sealed.bin"]
    assert_refused(world, rezip(contents), codes=("tampered_package",))


def test_mark_moved_to_another_module_is_tampered(world, publish, sealed, marked):
    other = publish(
        world.developer, world.acme_dev_env, factories.manifest(name="Other"), {"a.txt": b"x"}
    ).version
    contents = members(sealed_bytes(other))
    contents["mark.json"] = members(sealed)["mark.json"]
    assert_refused(world, rezip(contents), codes=("tampered_package",))


def test_tampered_package_is_logged_as_a_refusal(world, sealed):
    contents = members(sealed)
    mark = json.loads(contents["mark.json"])
    mark["activation_code"] = world.emca.activation_code
    contents["mark.json"] = json.dumps(mark, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(TamperedPackage):
        publish_into(world, world.emca_dev_env, rezip(contents))
    assert refusals().last().details["reason"] == "tampered_package"
    assert not ModuleVersion.objects.filter(module__infrastructure=world.emca).exists()


def test_whitespace_only_edit_of_mark_json_is_tampered(world, sealed):
    contents = members(sealed)
    contents["mark.json"] = json.dumps(json.loads(contents["mark.json"]), indent=2).encode()
    assert_refused(world, rezip(contents), codes=("tampered_package",))


_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=40),
    st.lists(st.integers(), max_size=2),
)


@settings(**NOT_500)
@given(data=st.data())
def test_any_edit_of_a_mark_field_is_refused_as_tampered(world, sealed, data):
    contents = members(sealed)
    mark = json.loads(contents["mark.json"])
    action = data.draw(st.sampled_from(["edit", "delete", "add"]))
    if action == "edit":
        field = data.draw(st.sampled_from(FIELDS))
        value = data.draw(_json_values.filter(lambda v: v != mark[field]))
        mark[field] = value
    elif action == "delete":
        del mark[data.draw(st.sampled_from(FIELDS))]
    else:
        mark[data.draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in FIELDS))] = 1
    contents["mark.json"] = json.dumps(mark, sort_keys=True, separators=(",", ":")).encode()
    assert_refused(world, rezip(contents), codes=("tampered_package",))


@settings(**NOT_500)
@given(data=st.data())
def test_any_byte_edit_of_mark_manifest_or_payload_is_refused(world, sealed, data):
    contents = members(sealed)
    name = data.draw(st.sampled_from(["mark.json", "manifest.json", "sealed.bin"]))
    raw = bytearray(contents[name])
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    contents[name] = bytes(raw)
    assert_refused(world, rezip(contents))


@settings(**NOT_500)
@given(cut=st.integers(min_value=1, max_value=400))
def test_any_truncation_of_the_payload_is_refused(world, sealed, cut):
    contents = members(sealed)
    contents["sealed.bin"] = contents["sealed.bin"][: max(0, len(contents["sealed.bin"]) - cut)]
    assert_refused(world, rezip(contents))


def test_payload_moved_under_src_without_its_mark_is_tampered(world, sealed):
    contents = members(sealed)
    stripped = {
        "manifest.json": contents["manifest.json"],
        "src/sealed.bin": contents["sealed.bin"],
    }
    error = assert_refused(world, rezip(stripped), codes=("tampered_package",))
    assert "without its mark" in error.detail


def test_sealing_key_lives_outside_the_database_in_a_private_file(settings, sealed):
    directory = settings.IPP_KEYS_DIR / "sealing"
    assert sorted(path.suffix for path in directory.iterdir()) == [".json", ".key"]
    for path in directory.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


def test_package_sealed_by_another_sites_key_is_tampered(world, sealed, monkeypatch):
    monkeypatch.setenv("IPP_SEALING_KEY", base64.b64encode(b"k" * 32).decode())
    assert_refused(world, sealed, codes=("tampered_package",))
