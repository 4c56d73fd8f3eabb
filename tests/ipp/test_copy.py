"""Copying exposed elements between modules (SPEC rule 4)."""

import pytest
from guardian.shortcuts import assign_perm

from audit.models import AuditEntry
from core.levels import Level
from permissions.deployers import deployer_add
from registry.models import Environment, ModuleVersion
from registry.selectors import open_version_source
from tests import factories
from tests.ipp.conftest import SECRET

ELEMENTS = [
    {
        "name": "GetCustomer",
        "kind": "server_action",
        "signature": "GetCustomer(Id: Integer) -> Customer",
    },
    {"name": "Customer", "kind": "entity", "signature": "Customer"},
]


@pytest.fixture
def acme_modules(world, publish):
    """CustomerCore (source, marked) and Orders (target) published in ACME Development."""
    core = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="CustomerCore", exposes=ELEMENTS),
        {"Logic/GetCustomer.oml": SECRET, "Entities/Customer.oml": b"entity Customer\n"},
    )
    orders = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="Orders", exposes=[]),
        {"Orders.oml": b"orders\n"},
    )
    return core, orders


def copy(client, source, body):
    return client.post(f"/api/v1/modules/{source.pk}/copy", body, format="json")


def read_all(version) -> dict:
    reader = open_version_source(version)
    return {path: b"".join(reader.open(path)) for path, _ in reader.list_files()}


def test_copy_within_acme_creates_a_new_version_with_the_element_and_its_file(
    world, api, acme_modules
):
    core, orders = acme_modules

    response = copy(
        api(world.developer),
        core.module,
        {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk},
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version"]["number"] == 2
    assert body["files"] == ["copied/CustomerCore/Logic/GetCustomer.oml"]
    assert body["deployment"]["environment"] == world.acme_dev_env.pk
    new = ModuleVersion.objects.get(pk=body["version"]["id"])
    assert [e.name for e in new.exposes.all()] == ["GetCustomer"]
    assert read_all(new) == {
        "Orders.oml": b"orders\n",
        "copied/CustomerCore/Logic/GetCustomer.oml": SECRET,
    }
    assert new.marked_code == world.acme.activation_code  # ACME is protected
    entry = AuditEntry.objects.filter(action="module.copied").get()
    assert (
        entry.details["elements"] == ["GetCustomer"]
        and entry.details["from_module"] == "CustomerCore"
    )


def test_copying_an_entity_copies_the_file_named_after_it(world, api, acme_modules):
    core, orders = acme_modules
    response = copy(
        api(world.developer),
        core.module,
        {"version": 1, "elements": ["Customer"], "target": orders.module.pk},
    )
    assert response.status_code == 201
    # Entities/Customer.oml has the element's name: that file is copied, not a stub.
    assert response.json()["files"] == ["copied/CustomerCore/Entities/Customer.oml"]


def test_stub_is_generated_when_no_file_matches(world, api, publish, acme_modules):
    _core, orders = acme_modules
    lib = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(
            name="Lib", exposes=[{"name": "Helper", "kind": "block", "signature": "Helper()"}]
        ),
        {"Everything.oml": b"all in one"},
    )
    response = copy(
        api(world.developer),
        lib.module,
        {"version": 1, "elements": ["Helper"], "target": orders.module.pk},
    )
    assert response.status_code == 201
    new = ModuleVersion.objects.get(pk=response.json()["version"]["id"])
    stub = read_all(new)["copied/Lib/Helper.txt"]
    assert b"Copied from Lib v1" in stub and b"Helper()" in stub


def test_copying_an_element_the_target_already_exposes_is_a_conflict(world, api, acme_modules):
    core, orders = acme_modules
    client = api(world.developer)
    assert (
        copy(
            client,
            core.module,
            {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk},
        ).status_code
        == 201
    )
    response = copy(
        client, core.module, {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_copying_marked_elements_into_emca_is_blocked_and_logged(world, api, publish, acme_modules):
    core, _orders = acme_modules
    emca_target = publish(
        world.emca_admin,
        world.emca_dev_env,
        factories.manifest(name="Shop", exposes=[]),
        {"a.txt": b"a"},
    )
    factories.make_member(world.emca, world.developer, default_level=Level.PUBLISH)

    response = copy(
        api(world.developer),
        core.module,
        {"version": 1, "elements": ["GetCustomer"], "target": emca_target.module.pk},
    )

    assert response.status_code == 403
    assert response.json()["error"] == "ipp_copy_blocked"
    entry = AuditEntry.objects.filter(action="module.copy_refused").get()
    assert entry.details["reason"] == "ipp_copy_blocked"
    assert world.acme.activation_code not in str(entry.details)  # nothing of ACME leaks to EMCA
    assert entry.details["target"] == "Shop"
    assert emca_target.module.versions.count() == 1


def test_unmarked_elements_may_be_copied_into_another_infrastructure(world, api, publish):
    source = publish(
        world.emca_admin,
        world.emca_dev_env,
        factories.manifest(name="Open", exposes=ELEMENTS[:1]),
        {"Logic/GetCustomer.oml": b"free"},
    )
    target = publish(
        world.developer,
        world.acme_dev_env,
        factories.manifest(name="Orders", exposes=[]),
        {"o.txt": b"o"},
    )
    factories.make_member(world.emca, world.developer, default_level=Level.OPEN)

    response = copy(
        api(world.developer),
        source.module,
        {"version": 1, "elements": ["GetCustomer"], "target": target.module.pk},
    )

    assert response.status_code == 201, response.json()


def test_copy_needs_open_on_the_source_and_publish_on_the_target(world, api, acme_modules):
    core, orders = acme_modules
    body = {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk}
    # contractor has no level on ACME modules: the source does not exist for them.
    assert copy(api(world.contractor), core.module, body).status_code == 404
    # a reference-only contractor sees the module but may not copy from it.
    assign_perm("reference_module", world.contractor, core.module)
    assert copy(api(world.contractor), core.module, body).status_code == 403
    # open on the source but only open on the target: 403 on the target.
    assign_perm("open_module", world.contractor, core.module)
    assign_perm("open_module", world.contractor, orders.module)
    assert copy(api(world.contractor), core.module, body).status_code == 403
    assert copy(api(world.outsider), core.module, body).status_code == 404


def test_copy_of_an_element_the_version_does_not_expose_is_a_bad_request(world, api, acme_modules):
    core, orders = acme_modules
    response = copy(
        api(world.developer),
        core.module,
        {"version": 1, "elements": ["Nope"], "target": orders.module.pk},
    )
    assert response.status_code == 400
    assert "Nope" in response.json()["detail"]


def test_copy_path_with_trailing_slash_works_too(world, api, acme_modules):
    core, orders = acme_modules
    response = api(world.developer).post(
        f"/api/v1/modules/{core.module.pk}/copy/",
        {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk},
        format="json",
    )
    assert response.status_code == 201


# --- the target environment -----------------------------------------------------------


def test_copy_publishes_into_the_environment_chosen(world, api, acme_modules):
    core, orders = acme_modules
    response = copy(
        api(world.developer),
        core.module,
        {
            "version": 1,
            "elements": ["GetCustomer"],
            "target": orders.module.pk,
            "environment": world.acme_prod_env.pk,
        },
    )
    assert response.status_code == 201, response.json()
    assert response.json()["deployment"]["environment"] == world.acme_prod_env.pk
    # Development keeps running v1: the copy went only where it was asked to go.
    assert (
        orders.module.deployments.get(environment=world.acme_dev_env, is_current=True).version
        == orders.version
    )


def test_copy_into_a_protected_environment_needs_a_deployer(world, api, acme_modules):
    core, orders = acme_modules
    Environment.objects.filter(pk=world.acme_prod_env.pk).update(protected=True)
    body = {
        "version": 1,
        "elements": ["GetCustomer"],
        "target": orders.module.pk,
        "environment": world.acme_prod_env.pk,
    }

    refused = copy(api(world.developer), core.module, body)

    assert refused.status_code == 403 and refused.json()["error"] == "environment_protected"
    assert orders.module.versions.count() == 1
    entry = AuditEntry.objects.get(action="module.publish_refused")
    assert entry.details["reason"] == "environment_protected"
    assert entry.details["module"] == "Orders" and entry.details["copy_from"] == "CustomerCore"

    world.acme_prod_env.refresh_from_db()
    deployer_add(actor=world.acme_admin, environment=world.acme_prod_env, user=world.developer)
    assert copy(api(world.developer), core.module, body).status_code == 201


def test_copy_into_an_environment_of_another_infrastructure_is_refused(world, api, acme_modules):
    core, orders = acme_modules
    body = {"version": 1, "elements": ["GetCustomer"], "target": orders.module.pk}
    other = copy(api(world.developer), core.module, {**body, "environment": world.emca_dev_env.pk})
    assert other.status_code == 404  # the developer cannot see EMCA's environments
    factories.make_member(world.emca, world.developer)
    other = copy(api(world.developer), core.module, {**body, "environment": world.emca_dev_env.pk})
    assert other.status_code == 400 and "not an environment of ACME" in other.json()["detail"]
    assert orders.module.versions.count() == 1
