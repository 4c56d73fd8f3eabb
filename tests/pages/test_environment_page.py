"""The environment page: deployed modules the user can see, and upload-and-publish."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse

from publishing.source import package_export
from registry.models import Module, ModuleVersion
from tests import factories

XHR = {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest", "HTTP_ACCEPT": "application/json"}


def _upload(data: bytes, name: str = "module.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/zip")


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("support", 200),
        ("acme_admin", 200),
        ("developer", 200),
        ("contractor", 200),
        ("emca_admin", 404),
        ("outsider", 404),
    ],
)
def test_acme_environment_page_status_per_persona(world, as_user, persona, status):
    user = world.personas()[persona]
    response = as_user(user).get(reverse("environment", args=[world.acme_dev_env.pk]))
    assert response.status_code == status


def test_unknown_environment_is_404(world, as_user):
    assert as_user(world.support).get(reverse("environment", args=[999999])).status_code == 404


def test_deployed_modules_are_listed_with_version_and_mark_badge(world, as_user, core_module):
    html = (
        as_user(world.developer)
        .get(reverse("environment", args=[world.acme_dev_env.pk]))
        .content.decode()
    )
    assert reverse("module", args=[core_module.pk]) in html
    assert "v1" in html
    version = core_module.versions.get()
    assert ('data-testid="marked"' in html) == version.marked
    assert ('data-testid="unmarked"' in html) == (not version.marked)
    assert 'data-level="publish"' in html


def test_contractor_without_a_level_does_not_see_the_deployed_module(world, as_user, core_module):
    html = (
        as_user(world.contractor)
        .get(reverse("environment", args=[world.acme_dev_env.pk]))
        .content.decode()
    )
    assert "CustomerCore" not in html
    assert 'data-testid="empty-deployments"' in html


def test_publish_through_the_page_redirects_to_the_module(world, as_user):
    client = as_user(world.developer)
    url = reverse("environment", args=[world.acme_dev_env.pk])
    response = client.post(url, {"package": _upload(factories.package_bytes())})
    module = Module.objects.get(name="CustomerCore")
    assert response.status_code == 302
    assert response["Location"] == reverse("module", args=[module.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Published CustomerCore v1 to ACME / Development." in page
    assert "GetCustomer" in page


def test_publish_with_xhr_answers_json_with_the_redirect(world, as_user):
    client = as_user(world.developer)
    url = reverse("environment", args=[world.acme_dev_env.pk])
    response = client.post(url, {"package": _upload(factories.package_bytes())}, **XHR)
    assert response.status_code == 201
    body = json.loads(response.content)
    module = Module.objects.get(name="CustomerCore")
    assert body["redirect"] == reverse("module", args=[module.pk])
    assert body["version"] == 1


def test_invalid_package_shows_the_error_and_creates_nothing(world, as_user):
    response = as_user(world.developer).post(
        reverse("environment", args=[world.acme_dev_env.pk]),
        {"package": _upload(b"this is not a zip file")},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="message"' in html
    assert "alert-danger" in html
    assert not Module.objects.exists()
    assert not ModuleVersion.objects.exists()


def test_invalid_package_with_xhr_answers_the_error_as_json(world, as_user):
    response = as_user(world.developer).post(
        reverse("environment", args=[world.acme_dev_env.pk]),
        {"package": _upload(b"this is not a zip file")},
        **XHR,
    )
    assert response.status_code == 400
    body = json.loads(response.content)
    assert body["error"] == "invalid_package"
    assert body["detail"]
    assert not Module.objects.exists()


def test_missing_file_is_refused_with_a_message(world, as_user):
    response = as_user(world.developer).post(
        reverse("environment", args=[world.acme_dev_env.pk]), {}
    )
    assert response.status_code == 400
    assert "Choose a module package (.zip) to upload." in response.content.decode()


def test_contractor_without_create_modules_is_refused(world, as_user):
    response = as_user(world.contractor).post(
        reverse("environment", args=[world.acme_dev_env.pk]),
        {"package": _upload(factories.package_bytes())},
        **XHR,
    )
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "permission_denied"
    assert not Module.objects.exists()


def test_support_who_is_not_a_member_gets_no_upload_form_and_cannot_publish(world, as_user):
    client = as_user(world.support)
    url = reverse("environment", args=[world.acme_dev_env.pk])
    assert 'data-testid="publish-form"' not in client.get(url).content.decode()
    response = client.post(url, {"package": _upload(factories.package_bytes())})
    assert response.status_code == 403
    assert not Module.objects.exists()


def test_outsider_cannot_publish_into_an_environment_they_cannot_see(world, as_user):
    response = as_user(world.outsider).post(
        reverse("environment", args=[world.acme_dev_env.pk]),
        {"package": _upload(factories.package_bytes())},
    )
    assert response.status_code == 404
    assert not Module.objects.exists()


def test_environment_page_queries_do_not_grow_with_deployed_modules(
    world, as_user, publish, django_assert_max_num_queries
):
    client = as_user(world.developer)
    url = reverse("environment", args=[world.acme_dev_env.pk])
    publish(world.developer, world.acme_dev_env, factories.manifest(name="Module0"))
    with django_assert_max_num_queries(12) as one_row:
        assert client.get(url).status_code == 200
    for n in range(1, 6):
        publish(world.developer, world.acme_dev_env, factories.manifest(name=f"Module{n}"))
    with django_assert_max_num_queries(len(one_row.captured_queries)) as six_rows:
        html = client.get(url).content.decode()
    assert html.count('data-testid="deployment-row"') == 6
    assert len(six_rows.captured_queries) == len(one_row.captured_queries)


def test_marked_export_uploaded_to_another_infrastructure_shows_the_ipp_error(
    world, as_user, core_module
):
    version = core_module.versions.get()
    if not version.marked:
        pytest.skip("IPP marks are not issued yet in this build")
    _name, fileobj = package_export(user=world.developer, version=version)
    factories.make_member(world.emca, world.contractor, create_modules=True)
    client = as_user(world.contractor)
    url = reverse("environment", args=[world.emca_dev_env.pk])
    response = client.post(url, {"package": _upload(fileobj.read())})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Invalid Intellectual Property: You are trying to upload or publish a solution" in html
    if reverse_or_none("ipp:troubleshoot"):
        assert 'data-testid="troubleshoot-link"' in html
    assert not Module.objects.filter(infrastructure=world.emca).exists()


def reverse_or_none(name):
    try:
        return reverse(name)
    except NoReverseMatch:
        return None
