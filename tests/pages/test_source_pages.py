"""Source browser and package export: `open` only, every view audited."""

import io
import json
import zipfile

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from audit.models import AuditEntry
from ippsite.registry_ui.views import FILES_PER_PAGE
from tests import factories


def _list_url(module, number=1):
    return reverse("module_source", args=[module.pk, number])


def _file_url(module, path, number=1):
    return reverse("module_source", args=[module.pk, number, path])


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("support", 404),
        ("acme_admin", 200),
        ("developer", 200),
        ("contractor", 404),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_source_list_status_per_persona(world, as_user, core_module, persona, status):
    user = world.personas()[persona]
    assert as_user(user).get(_list_url(core_module)).status_code == status


def test_reference_only_user_gets_403_on_source_file_and_export(world, as_user, core_module):
    assign_perm("reference_module", world.contractor, core_module)
    client = as_user(world.contractor)
    assert client.get(_list_url(core_module)).status_code == 403
    assert client.get(_file_url(core_module, "Logic/GetCustomer.oml")).status_code == 403
    assert client.get(reverse("module_export", args=[core_module.pk, 1])).status_code == 403
    assert not AuditEntry.objects.filter(
        action__in=["module.source_viewed", "module.exported"]
    ).exists()


def test_source_list_shows_the_files(world, as_user, core_module):
    html = as_user(world.developer).get(_list_url(core_module)).content.decode()
    assert _file_url(core_module, "Logic/GetCustomer.oml") in html


def test_unknown_version_is_404(world, as_user, core_module):
    assert as_user(world.developer).get(_list_url(core_module, 7)).status_code == 404


def test_text_file_is_shown_and_the_view_audited(world, as_user, core_module):
    response = as_user(world.developer).get(_file_url(core_module, "Logic/GetCustomer.oml"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="source-content"' in html
    assert "-- secret logic of GetCustomer --" in html
    entry = AuditEntry.objects.get(action="module.source_viewed")
    assert entry.details["path"] == "Logic/GetCustomer.oml"


def test_file_download_sends_the_bytes(world, as_user, core_module):
    response = as_user(world.developer).get(
        _file_url(core_module, "Logic/GetCustomer.oml") + "?download=1"
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"-- secret logic of GetCustomer --\nreturn 42\n"
    assert "attachment" in response["Content-Disposition"]


def test_binary_file_offers_a_download_instead_of_text(world, as_user, publish):
    module = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="Images"),
        {"Resources/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
    ).module
    html = as_user(world.developer).get(_file_url(module, "Resources/logo.png")).content.decode()
    assert 'data-testid="source-binary"' in html
    assert 'data-testid="source-content"' not in html


def test_missing_file_is_404(world, as_user, core_module):
    assert as_user(world.developer).get(_file_url(core_module, "Logic/Nope.oml")).status_code == 404


def test_export_downloads_the_package_and_is_audited(world, as_user, core_module):
    response = as_user(world.developer).get(reverse("module_export", args=[core_module.pk, 1]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["key"] == str(core_module.key)
    assert AuditEntry.objects.filter(action="module.exported").count() == 1


def test_the_file_list_is_a_page_at_a_time(world, as_user, publish):
    files = {f"Logic/File{i:03d}.oml": f"// file {i}\n".encode() * 8 for i in range(105)}
    module = publish(world.developer, world.acme_dev_env, files=files).module
    client = as_user(world.developer)
    url = reverse("module_source", args=[module.pk, 1])
    first = client.get(url).content.decode()
    assert first.count(">Logic/File") == FILES_PER_PAGE
    assert "Page 1 of 2 · 105 in all" in first
    assert client.get(url, {"page": 2}).content.decode().count(">Logic/File") == 5
