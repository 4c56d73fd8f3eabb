"""IPP as an API client meets it: marks on publish, refusals on foreign publish or deploy."""

import io
import zipfile

import pytest

from core.errors import IPP_MESSAGE
from registry.models import Module
from tests import factories
from tests.api.helpers import published

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme_admin_in_emca(api, world):
    """ACME's administrator also administers EMCA: the permissions allow everything."""
    reply = api("emca_admin").post(
        f"infrastructures/{world.emca.pk}/members",
        {"username": "acme_admin", "role": "administrator", "default_level": "publish"},
    )
    assert reply.status == 201


def test_publishing_in_protected_acme_marks_the_version(api, world):
    body = published(api("acme_admin"), world.acme_dev_env)
    assert body["version"]["marked"] is True
    assert body["version"]["mark"]["activation_code"] == world.acme.activation_code
    detail = api("acme_admin").get(f"modules/{body['module']['id']}").json()
    assert detail["versions"][0]["marked"] is True


def test_publishing_in_unprotected_emca_does_not_mark(api, world):
    body = published(api("emca_admin"), world.emca_dev_env)
    assert body["version"]["marked"] is False and body["version"]["mark"] is None


def test_deploying_a_marked_version_to_another_infrastructure_is_refused(
    api, world, acme_admin_in_emca
):
    body = published(api("acme_admin"), world.acme_dev_env)
    reply = api("acme_admin").post(
        "deployments", {"version": body["version"]["id"], "environment": world.emca_dev_env.pk}
    )
    assert reply.status == 403
    assert reply.json() == {
        "error": "invalid_intellectual_property",
        "detail": IPP_MESSAGE,
        "reason": "foreign_mark",
    }
    assert not Module.objects.filter(infrastructure=world.emca).exists()


def test_a_marked_export_is_sealed_and_publishes_only_where_it_is_marked(
    api, world, acme_admin_in_emca
):
    client = api("acme_admin")
    body = published(client, world.acme_dev_env, files={"Logic/Secret.oml": b"the recipe"})
    package = client.get(f"modules/{body['module']['id']}/versions/1/package")
    assert package.status == 200
    with zipfile.ZipFile(io.BytesIO(package.body)) as zf:
        names = zf.namelist()
        assert "mark.json" in names and "manifest.json" in names
        assert not any(name.startswith("src/") for name in names)
        assert all(b"the recipe" not in zf.read(name) for name in names)

    foreign = client.upload(f"environments/{world.emca_dev_env.pk}/publish", package.body)
    assert foreign.status == 403
    assert foreign.json() == {
        "error": "invalid_intellectual_property",
        "detail": IPP_MESSAGE,
        "reason": "foreign_mark",
    }

    home = client.upload(f"environments/{world.acme_prod_env.pk}/publish", package.body)
    assert home.status == 200  # the same version, now deployed in Production too
    assert home.json()["version"]["id"] == body["version"]["id"]


def test_a_marked_version_deploys_freely_inside_its_infrastructure(api, world):
    body = published(api("acme_admin"), world.acme_dev_env, factories.manifest())
    reply = api("acme_admin").post(
        "deployments", {"version": body["version"]["id"], "environment": world.acme_prod_env.pk}
    )
    assert reply.status == 201
