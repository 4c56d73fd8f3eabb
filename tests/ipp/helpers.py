"""Building sealed packages and editing ZIP members for the IPP tests."""

import io
import zipfile

from ipp.sealing import build_sealed_package
from registry.selectors import open_version_source


def sealed_bytes(version, mark=None) -> bytes:
    out = io.BytesIO()
    build_sealed_package(version=version, reader=open_version_source(version), mark=mark, out=out)
    return out.getvalue()


def members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(contents: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            zf.writestr(
                info,
                data,
                compress_type=zipfile.ZIP_STORED if name == "sealed.bin" else zipfile.ZIP_DEFLATED,
            )
    return out.getvalue()


def package_upload(data: bytes):
    f = io.BytesIO(data)
    f.name = "module.zip"
    return f
