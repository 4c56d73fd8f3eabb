"""The module catalog, module detail, source and package endpoints: who sees what."""

import io
import json
import zipfile

import pytest

from audit.models import AuditEntry
from tests import factories
from tests.api.helpers import publish, published

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = {
    "Logic/GetCustomer.oml": b"-- secret logic of GetCustomer --\nreturn 42\n",
    "UI/Screens/Home.html": b"<script>alert(1)</script>",
    "README.txt": b"hello\n",
}


@pytest.fixture
def acme_module(api, world):
    """CustomerCore v1 published by ACME's administrator in ACME Development."""
    man = factories.manifest(name="CustomerCore")
    body = published(api("acme_admin"), world.acme_dev_env, man, SOURCE)
    return {
        "id": body["module"]["id"],
        "key": man["key"],
        "version": body["version"],
        "manifest": man,
    }


@pytest.fixture
def contractor_reference(api, world):
    """Give the contractor `reference` by default in ACME (through the members endpoint)."""
    reply = api("acme_admin").post(
        f"infrastructures/{world.acme.pk}/members",
        {"username": "contractor", "role": "member", "default_level": "reference"},
    )
    assert reply.status == 200


# --- GET /modules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona, level",
    [("acme_admin", "publish"), ("developer", "open"), ("contractor", None), ("support", None),
     ("emca_admin", None), ("outsider", None)],
)  # fmt: skip
def test_the_catalog_lists_what_each_persona_may_see_with_their_level(
    api, world, acme_module, persona, level
):
    reply = api(persona).get("modules")
    assert reply.status == 200
    rows = reply.json()["results"]
    if level is None:
        assert rows == [] and reply.json()["count"] == 0
    else:
        assert rows == [
            {
                "id": acme_module["id"],
                "key": acme_module["key"],
                "name": "CustomerCore",
                "infrastructure": world.acme.pk,
                "level": level,
                "exposes": [
                    {
                        "name": "GetCustomer",
                        "kind": "server_action",
                        "signature": "GetCustomer(Id: Integer) -> Customer",
                    }
                ],
            }
        ]


def test_a_reference_level_member_sees_the_module_in_the_catalog(
    api, acme_module, contractor_reference
):
    rows = api("contractor").get("modules").json()["results"]
    assert [(r["name"], r["level"]) for r in rows] == [("CustomerCore", "reference")]


def test_the_catalog_shows_the_interface_of_the_latest_version(api, world, acme_module):
    man = dict(acme_module["manifest"])
    man["exposes"] = [
        {
            "name": "GetCustomer",
            "kind": "server_action",
            "signature": "GetCustomer(Id) -> Customer",
        },
        {"name": "Customer", "kind": "entity", "signature": "Customer"},
    ]
    published(api("acme_admin"), world.acme_dev_env, man, SOURCE)
    row = api("developer").get("modules").json()["results"][0]
    assert [e["name"] for e in row["exposes"]] == ["Customer", "GetCustomer"]


def test_the_catalog_searches_by_name_and_filters_by_infrastructure(api, world):
    client = api("acme_admin")
    for name in ("CustomerCore", "CustomerPortal", "Billing"):
        published(client, world.acme_dev_env, factories.manifest(name=name))
    published(api("emca_admin"), world.emca_dev_env, factories.manifest(name="CustomerEMCA"))
    # q is a part of the name only: a description that mentions it does not match.
    published(
        client, world.acme_dev_env, factories.manifest(name="Ledger", description="customer bills")
    )

    def found(client, query):
        return [row["name"] for row in client.get("modules" + query).json()["results"]]

    assert found(client, "?q=customer") == ["CustomerCore", "CustomerPortal"]
    assert found(client, "?q=bill") == ["Billing"]
    assert found(client, f"?infrastructure={world.acme.pk}") == [
        "Billing",
        "CustomerCore",
        "CustomerPortal",
        "Ledger",
    ]
    assert found(client, f"?infrastructure={world.emca.pk}") == []  # not visible to acme_admin
    assert found(client, f"?q=portal&infrastructure={world.acme.pk}") == ["CustomerPortal"]
    assert found(client, f"?q=customer&infrastructure={world.emca.pk}") == []
    assert found(api("emca_admin"), "?q=customer") == ["CustomerEMCA"]
    assert client.get("modules?infrastructure=ACME").status == 400


# --- GET /modules/{id} ------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona, status",
    [("acme_admin", 200), ("developer", 200), ("contractor", 404), ("support", 404),
     ("emca_admin", 404), ("outsider", 404)],
)  # fmt: skip
def test_module_detail_is_404_without_a_level(api, acme_module, persona, status):
    reply = api(persona).get(f"modules/{acme_module['id']}")
    assert reply.status == status
    if status == 404:
        assert reply.json()["error"] == "not_found"
        assert "CustomerCore" not in reply.body.decode()


def test_module_detail_shows_interface_references_versions_and_deployments(api, world, acme_module):
    client = api("acme_admin")
    portal = factories.manifest(
        name="Portal", references=[{"module": acme_module["key"], "elements": ["GetCustomer"]}]
    )
    body = published(client, world.acme_dev_env, portal)
    published(client, world.acme_dev_env, portal, {"Logic/Portal.oml": b"v2"})
    prod = world.acme_prod_env.pk
    # Portal v1 references CustomerCore, so CustomerCore must be in Production first
    refused = client.post("deployments", {"version": body["version"]["id"], "environment": prod})
    assert refused.status == 409 and refused.json()["error"] == "broken_reference"
    assert (
        client.post(
            "deployments", {"version": acme_module["version"]["id"], "environment": prod}
        ).status
        == 201
    )
    assert (
        client.post("deployments", {"version": body["version"]["id"], "environment": prod}).status
        == 201
    )

    detail = client.get(f"modules/{body['module']['id']}").json()
    assert detail["name"] == "Portal" and detail["level"] == "publish"
    assert detail["references"] == [{"module": acme_module["key"], "elements": ["GetCustomer"]}]
    assert [v["number"] for v in detail["versions"]] == [2, 1]
    assert set(detail["versions"][0]) == {"number", "digest", "marked", "created_at"}
    deployed = {d["environment_name"]: d["version"] for d in detail["deployments"]}
    assert deployed == {"Development": 2, "Production": 1}


def test_a_reference_level_member_sees_the_detail(api, acme_module, contractor_reference):
    reply = api("contractor").get(f"modules/{acme_module['id']}")
    assert reply.status == 200
    assert reply.json()["level"] == "reference"


# --- source and package -----------------------------------------------------------------

OPEN_MATRIX = [
    ("acme_admin", 200),
    ("developer", 200),
    ("contractor", 404),
    ("support", 404),  # support manages IPP; it does not read source
    ("emca_admin", 404),
    ("outsider", 404),
]


@pytest.mark.parametrize("persona, status", OPEN_MATRIX)
def test_the_source_list_needs_open(api, acme_module, persona, status):
    reply = api(persona).get(f"modules/{acme_module['id']}/versions/1/source")
    assert reply.status == status
    if status == 200:
        files = {f["path"]: f["size"] for f in reply.json()["files"]}
        assert files == {path: len(content) for path, content in SOURCE.items()}


@pytest.mark.parametrize("persona, status", OPEN_MATRIX)
def test_a_source_file_needs_open_and_each_read_is_audited(api, acme_module, persona, status):
    reply = api(persona).get(f"modules/{acme_module['id']}/versions/1/source/Logic/GetCustomer.oml")
    assert reply.status == status
    viewed = AuditEntry.objects.filter(action="module.source_viewed")
    if status == 200:
        assert reply.body == SOURCE["Logic/GetCustomer.oml"]
        entry = viewed.get()
        assert entry.actor_name == persona
        assert entry.details == {
            "module": "CustomerCore",
            "version": 1,
            "path": "Logic/GetCustomer.oml",
        }
    else:
        assert reply.json()["error"] == "not_found"
        assert not viewed.exists()


@pytest.mark.parametrize("persona, status", OPEN_MATRIX)
def test_the_package_needs_open_and_each_export_is_audited(api, acme_module, persona, status):
    reply = api(persona).get(f"modules/{acme_module['id']}/versions/1/package")
    assert reply.status == status
    exported = AuditEntry.objects.filter(action="module.exported")
    if status == 200:
        assert reply.headers["Content-Type"] == "application/zip"
        assert 'filename="CustomerCore-v1.zip"' in reply.headers["Content-Disposition"]
        with zipfile.ZipFile(io.BytesIO(reply.body)) as zf:
            assert "manifest.json" in zf.namelist()
        assert exported.get().actor_name == persona
    else:
        assert not exported.exists()


@pytest.mark.parametrize("path", ["source", "source/Logic/GetCustomer.oml", "package"])
def test_reference_only_gets_403_for_source_and_package(
    api, acme_module, contractor_reference, path
):
    reply = api("contractor").get(f"modules/{acme_module['id']}/versions/1/{path}")
    assert reply.status == 403
    assert reply.json()["error"] == "permission_denied"
    assert not AuditEntry.objects.filter(
        action__in=["module.source_viewed", "module.exported"]
    ).exists()


def test_unknown_versions_and_files_are_404(api, acme_module):
    client = api("developer")
    base = f"modules/{acme_module['id']}/versions"
    assert client.get(f"{base}/2/source").status == 404
    assert client.get(f"{base}/2/package").status == 404
    assert client.get(f"{base}/1/source/Logic/Nope.oml").status == 404
    assert client.get(f"{base}/1/source/Logic").status == 404
    assert not AuditEntry.objects.filter(action="module.source_viewed").exists()


def test_source_is_served_as_inert_data(api, acme_module):
    client = api("developer")
    base = f"modules/{acme_module['id']}/versions/1/source"
    html = client.get(f"{base}/UI/Screens/Home.html")
    assert html.body == SOURCE["UI/Screens/Home.html"]
    assert html.headers["Content-Type"].startswith("text/plain")
    assert "sandbox" in html.headers["Content-Security-Policy"]
    assert (
        client.get(f"{base}/Logic/GetCustomer.oml").headers["Content-Type"].startswith("text/plain")
    )


def test_an_exported_plain_package_round_trips(api, world):
    """EMCA is unprotected: its export is a plain package that publishes as the same version."""
    client = api("emca_admin")
    man = factories.manifest(name="Billing", description="Invoices")
    body = published(client, world.emca_dev_env, man, SOURCE)
    assert body["version"]["marked"] is False

    reply = client.get(f"modules/{body['module']['id']}/versions/1/package")
    assert reply.status == 200
    with zipfile.ZipFile(io.BytesIO(reply.body)) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(["manifest.json"] + [f"src/{p}" for p in SOURCE])
        assert json.loads(zf.read("manifest.json"))["key"] == man["key"]
        assert json.loads(zf.read("manifest.json"))["description"] == "Invoices"
        for path, content in SOURCE.items():
            assert zf.read(f"src/{path}") == content

    again = client.upload(f"environments/{world.emca_prod_env.pk}/publish", reply.body)
    assert again.status == 200  # identical content: the existing version, now in Production
    assert again.json()["version"]["digest"] == body["version"]["digest"]


def test_a_publish_then_read_round_trip_for_a_developer(api, world):
    files = {"a/b/c/deep.txt": b"deep", "top.bin": bytes(range(256))}
    body = published(api("developer"), world.acme_dev_env, factories.manifest(name="Deep"), files)
    client = api("developer")
    base = f"modules/{body['module']['id']}/versions/1/source"
    listed = {f["path"] for f in client.get(base).json()["files"]}
    assert listed == set(files)
    for path, content in files.items():
        reply = client.get(f"{base}/{path}")
        assert reply.status == 200 and reply.body == content
    assert client.get(f"{base}/top.bin").headers["Content-Type"] == "application/octet-stream"


def test_a_refused_publish_leaves_the_catalog_unchanged(api, world):
    reply = publish(api("contractor"), world.acme_dev_env)
    assert reply.status == 403
    assert api("acme_admin").get("modules").json()["count"] == 0
