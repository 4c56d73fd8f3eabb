"""Every list page costs the same at 5 and at 500 rows, on its first page and a deep one.

Each case grows one list (rows made in bulk, straight through the ORM), then counts the
queries of the page: with 5 rows, with 500 rows on page 1, and with 500 rows on a page
deep in the list. A count that follows the rows is a query per row: the defect the
STYLE's "never check permissions per row" and SPEC §8's "every list is paginated" forbid.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.levels import Level
from permissions.models import Team
from portal.models import TransferItem, TransferRequest
from registry.models import (
    Deployment,
    Environment,
    ExposedElement,
    Infrastructure,
    Membership,
    Module,
    ModuleVersion,
    Reference,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def _modules(infrastructure, start: int, count: int, prefix: str = "Mod") -> list:
    Module.objects.bulk_create(
        Module(infrastructure=infrastructure, key=uuid.uuid4(), name=f"{prefix}{i:04d}")
        for i in range(start, start + count)
    )
    return list(
        Module.objects.filter(infrastructure=infrastructure, name__startswith=prefix).order_by(
            "name"
        )[start : start + count]
    )


def _versions(module, start: int, count: int) -> list:
    ModuleVersion.objects.bulk_create(
        ModuleVersion(
            module=module,
            number=n,
            digest=uuid.uuid4().hex * 2,
            wrapped_key=b"x",
            master_key_id="k",
        )
        for n in range(start + 1, start + count + 1)
    )
    return list(module.versions.filter(number__gt=start))


def _deploy(environment, versions) -> None:
    Deployment.objects.bulk_create(
        Deployment(environment=environment, module_id=v.module_id, version=v) for v in versions
    )


def _users(start: int, count: int) -> list:
    names = [f"user{i:04d}" for i in range(start, start + count)]
    User.objects.bulk_create(User(username=name, password="!") for name in names)
    return list(User.objects.filter(username__in=names))


def _members(world, start: int, count: int) -> list:
    users = _users(start, count)
    Membership.objects.bulk_create(
        Membership(infrastructure=world.acme, user=u, default_level=int(Level.REFERENCE))
        for u in users
    )
    return users


# --- the lists ---------------------------------------------------------------------------


def grow_environment(world, start, count):
    modules = _modules(world.acme, start, count)
    _deploy(world.acme_dev_env, [_versions(m, 0, 1)[0] for m in modules])


def grow_infrastructure(world, start, count):
    _modules(world.acme, start, count)
    Environment.objects.bulk_create(
        Environment(infrastructure=world.acme, name=f"Env{i:04d}", serial=uuid.uuid4().hex[:20])
        for i in range(start, start + count)
    )


def grow_users(world, start, count):
    team = Team.objects.get_or_create(infrastructure=world.acme, name="Everyone")[0]
    team.members.add(*_members(world, start, count))


def grow_teams(world, start, count):
    Team.objects.bulk_create(
        Team(infrastructure=world.acme, name=f"Team{i:04d}") for i in range(start, start + count)
    )
    for team in Team.objects.filter(name__startswith="Team")[start : start + count]:
        team.members.add(world.contractor)


def grow_team(world, start, count):
    team = Team.objects.get_or_create(infrastructure=world.acme, name="Big")[0]
    team.members.add(*_members(world, start, count))
    team.modules.add(*_modules(world.acme, start, count))
    _modules(world.acme, start, count, prefix="Out")  # the list of modules to add grows too


def grow_versions(world, start, count):
    module = Module.objects.get_or_create(
        infrastructure=world.acme, name="Versioned", defaults={"key": uuid.uuid4()}
    )[0]
    _versions(module, start, count)


def grow_deployments(world, start, count):
    module = Module.objects.get_or_create(
        infrastructure=world.acme, name="Everywhere", defaults={"key": uuid.uuid4()}
    )[0]
    version = module.versions.first() or _versions(module, 0, 1)[0]
    Environment.objects.bulk_create(
        Environment(infrastructure=world.acme, name=f"Env{i:04d}", serial=uuid.uuid4().hex[:20])
        for i in range(start, start + count)
    )
    environments = Environment.objects.filter(name__startswith="Env").order_by("id")
    Deployment.objects.bulk_create(
        Deployment(environment=env, module=module, version=version)
        for env in environments[start : start + count]
    )


def grow_transfers(world, start, count):
    TransferRequest.objects.bulk_create(
        TransferRequest(
            source=world.acme,
            destination=world.emca,
            destination_code=world.emca.activation_code,
            requester=world.developer,
            note=f"#{i}",
        )
        for i in range(start, start + count)
    )


def grow_modules_tab(world, start, count):
    modules = _modules(world.acme, start, count)
    team = Team.objects.get_or_create(infrastructure=world.acme, name="Readers")[0]
    team.members.add(world.contractor)
    team.modules.add(*modules[::2])


def grow_members_of_a_module(world, start, count):
    module = Module.objects.get_or_create(
        infrastructure=world.acme, name="Granted", defaults={"key": uuid.uuid4()}
    )[0]
    team = Team.objects.get_or_create(infrastructure=world.acme, name="Granted")[0]
    team.modules.add(module)
    team.members.add(*_members(world, start, count))


def _latest_of(world, name):
    module = Module.objects.get_or_create(
        infrastructure=world.acme, name=name, defaults={"key": uuid.uuid4()}
    )[0]
    return module.versions.first() or _versions(module, 0, 1)[0]


def grow_interface(world, start, count):
    ExposedElement.objects.bulk_create(
        ExposedElement(version=_latest_of(world, "Wide"), name=f"Action{i:04d}", kind="entity")
        for i in range(start, start + count)
    )


def grow_references(world, start, count):
    """References to modules the reader sees, half of them, and to unknown keys."""
    version = _latest_of(world, "Referrer")
    seen = _modules(world.acme, start, count // 2 + 1, prefix="Target")
    keys = [m.key for m in seen] + [uuid.uuid4() for _ in range(count - len(seen))]
    Reference.objects.bulk_create(
        Reference(version=version, module_key=key, elements=["GetThing"]) for key in keys[:count]
    )


def grow_transfer_items(world, start, count):
    transfer = TransferRequest.objects.filter(note="Many").first()
    if transfer is None:
        transfer = TransferRequest.objects.create(
            source=world.acme,
            destination=world.emca,
            destination_code=world.emca.activation_code,
            requester=world.developer,
            note="Many",
        )
    versions = [_versions(m, 0, 1)[0] for m in _modules(world.acme, start, count)]
    TransferItem.objects.bulk_create(
        TransferItem(request=transfer, module_id=v.module_id, version=v, epoch=1) for v in versions
    )


def grow_publishable(world, start, count):
    """Modules the administrator may publish, each with a version: the transfer form's list."""
    for module in _modules(world.acme, start, count):
        _versions(module, 0, 1)


def grow_dashboard(world, start, count):
    for i in range(start, start + count):
        infra = Infrastructure.objects.create(name=f"Infra{i:04d}", platform="o11")
        Environment.objects.create(infrastructure=infra, name="Development")


@dataclass
class Case:
    name: str
    persona: str
    grow: Callable
    url: Callable  # (world) -> URL
    deep: dict  # query parameters of a page deep in the 500-row list
    paged: bool = True  # False: a list cut at its first rows with a search for the others


def _module_url(name, page="module"):
    return lambda w: reverse(page, args=[Module.objects.get(name=name).pk])


def _team_url(w):
    return reverse("team", args=[w.acme.pk, Team.objects.get(name="Big").pk])


CASES = [
    Case("environment", "developer", grow_environment,
         lambda w: reverse("environment", args=[w.acme_dev_env.pk]), {"page": 10}),
    Case("infrastructure", "developer", grow_infrastructure,
         lambda w: reverse("infrastructure", args=[w.acme.pk]), {"page": 10, "envs": 25}),
    Case("users", "acme_admin", grow_users,
         lambda w: reverse("infrastructure_users", args=[w.acme.pk]), {"page": 10}),
    Case("teams", "acme_admin", grow_teams,
         lambda w: reverse("teams", args=[w.acme.pk]), {"page": 10}),
    Case("team", "acme_admin", grow_team, _team_url, {"members": 10, "page": 10, "add": 25}),
    Case("versions", "developer", grow_versions, _module_url("Versioned"), {"page": 10}),
    Case("deployments", "developer", grow_deployments, _module_url("Everywhere"), {"envs": 25}),
    Case("my transfers", "developer", grow_transfers,
         lambda w: reverse("portal:requests"), {"page": 10}),
    Case("others' transfers", "acme_admin", grow_transfers,
         lambda w: reverse("portal:requests"), {"others": 10}),
    Case("approvals", "acme_admin", grow_transfers,
         lambda w: reverse("portal:inbox"), {"page": 10}),
    Case("modules tab", "acme_admin", grow_modules_tab,
         lambda w: reverse("user_modules", args=[w.acme.pk, w.contractor.pk]), {"page": 10}),
    Case("catalog", "developer", grow_environment, lambda w: reverse("catalog"), {"page": 10}),
    Case("permissions tab", "acme_admin", grow_members_of_a_module,
         _module_url("Granted", "module_permissions"), {"page": 10}),
    Case("dashboard", "support", grow_dashboard, lambda w: reverse("dashboard"), {"page": 25}),
    Case("interface", "developer", grow_interface, _module_url("Wide"), {"elements": 10}),
    Case("references", "developer", grow_references, _module_url("Referrer"), {"refs": 10}),
    Case("transfer's modules", "developer", grow_transfer_items,
         lambda w: reverse("portal:detail", args=[TransferRequest.objects.get(note="Many").pk]),
         {"items": 10}),
    Case("transfer form", "acme_admin", grow_publishable,
         lambda w: reverse("portal:new"), {"q": "Mod04"}, paged=False),
]  # fmt: skip


def _count(client, url, params=None) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, (url, params, response.status_code)
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_list_page_costs_the_same_at_5_and_500_rows_first_and_deep(client, world, case):
    client.force_login(world.personas()[case.persona])
    case.grow(world, 0, 5)
    url = case.url(world)
    five, _ = _count(client, url)
    case.grow(world, 5, 495)
    first, first_html = _count(client, url)
    deep, deep_html = _count(client, url, case.deep)
    assert (five, first, deep) == (five, five, five), case.name
    if not case.paged:
        return
    assert "Page 1 of" in first_html
    assert "Page 1 of" not in deep_html and 'rel="prev"' in deep_html
