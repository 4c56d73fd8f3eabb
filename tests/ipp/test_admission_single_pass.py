"""module_publish reads a package once before storing it: its fingerprints and the
sealed-payload test come from the digest pass (open_package(observe=...)), and give
exactly what the separate pass gives."""

import io

import pytest

from core.errors import TamperedPackage
from ipp.fingerprints import fingerprint_bytes
from ipp.sealing import MAGIC
from ipp.services import package_observer, package_verdict
from registry.packages import open_package
from tests import factories

LINE = b"  result := Compute(a, b)   \r\n\r\n\t\n"
FILES = {
    "Logic/Long.oml": LINE * 20_000,  # ~600 KiB: many digest chunks, CRLF across them
    "Logic/Short.oml": b"x = 1\n",  # too small: no fingerprint
    "Logic/Plain.oml": b"-- plain logic --\n" * 10,
    "Logic/OneLine.bin": b"y" * 300_000,  # one long line, no break at all
}


def opened(data: bytes, observe):
    return open_package(io.BytesIO(data), observe=observe)


@pytest.mark.django_db
def test_observed_fingerprints_equal_the_separate_pass_and_need_no_second_read(world):
    environment = world.acme_dev_env
    data = factories.package_bytes(factories.manifest(), FILES)
    separate, _ = package_verdict(package=opened(data, None), environment=environment)
    observed_package = opened(data, package_observer())
    observed_package.close()  # admission must not read the package again
    observed, _ = package_verdict(package=observed_package, environment=environment)
    expected = {fingerprint_bytes(content) for content in FILES.values()} - {None}
    assert len(expected) == 3
    assert observed.fingerprints == separate.fingerprints == frozenset(expected)
    assert observed.digest == separate.digest


@pytest.mark.django_db
@pytest.mark.parametrize("observe", [None, package_observer], ids=["separate", "observed"])
def test_a_sealed_payload_under_src_is_refused_either_way(world, observe):
    files = {**FILES, "Logic/Payload.bin": MAGIC + b"\0" * 500}
    package = opened(factories.package_bytes(factories.manifest(), files), observe and observe())
    with pytest.raises(TamperedPackage, match="Logic/Payload.bin is a sealed payload"):
        package_verdict(package=package, environment=world.acme_dev_env)
