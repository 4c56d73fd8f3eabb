"""Publishing a 200 MB package streams it: the peak of Python memory stays small."""

import os
import tracemalloc
import zipfile

from publishing.services import module_publish
from registry.selectors import open_version_source
from tests import factories

SIZE = 200 * 1024 * 1024
BLOCK = 1024 * 1024


def _write_big_package(path, manifest) -> None:
    import json

    block = os.urandom(BLOCK)  # incompressible, so the ratio rule is not what stops it
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        with zf.open("src/Data/big.bin", "w", force_zip64=True) as out:
            for i in range(SIZE // BLOCK):
                out.write(block[i:] + block[:i])


def test_publishing_a_200_mb_package_keeps_peak_memory_bounded(world, settings, tmp_path):
    settings.IPP_MAX_PACKAGE_MB = 300
    path = tmp_path / "big.zip"
    _write_big_package(path, factories.manifest(name="BigModule"))
    tracemalloc.start()
    try:
        with open(path, "rb") as upload:
            result = module_publish(
                user=world.developer, environment=world.acme_dev_env, upload=upload
            )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\npeak Python memory while publishing {SIZE >> 20} MB: {peak / 2**20:.1f} MiB")
    assert result.version.source_bytes == SIZE
    assert peak < 32 * 1024 * 1024, f"publishing held {peak / 2**20:.1f} MiB"
    reader = open_version_source(result.version)
    assert reader.list_files() == [("Data/big.bin", SIZE)]
