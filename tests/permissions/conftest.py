"""Helpers for the permission tests: modules and versions straight through the ORM."""

import uuid

import pytest
from django.contrib.auth.models import Permission

from core.levels import LEVEL_CODENAMES, Level
from permissions.models import ModuleUserObjectPermission, Team
from registry.models import ExposedElement, Module, ModuleVersion


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Personas sign in with a password; a fast hasher keeps the matrix quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_module(infrastructure, name: str, *, exposes=("GetCustomer",)) -> Module:
    """A module with one version exposing `exposes` (server actions)."""
    module = Module.objects.create(infrastructure=infrastructure, key=uuid.uuid4(), name=name)
    version = ModuleVersion.objects.create(
        module=module, number=1, digest=uuid.uuid4().hex * 2, wrapped_key=b"x", master_key_id="k"
    )
    ExposedElement.objects.bulk_create(
        ExposedElement(version=version, name=e, kind="server_action", signature=f"{e}()")
        for e in exposes
    )
    return module


def make_grant(user, module: Module, level: Level) -> None:
    """A grant as guardian stores it (test setup; the service is tested on its own)."""
    permission = Permission.objects.get(
        content_type__app_label="modules", codename=LEVEL_CODENAMES[level]
    )
    ModuleUserObjectPermission.objects.create(
        user=user, content_object=module, permission=permission
    )


def make_team(infrastructure, name: str, level: Level, *, members=(), modules=()) -> Team:
    team = Team.objects.create(infrastructure=infrastructure, name=name, level=int(level))
    team.members.set(members)
    team.modules.set(modules)
    return team


@pytest.fixture
def acme_modules(world):
    """ACME's API module (the one the contractor needs) and its Billing module; EMCA's Ledger."""
    return {
        "api": make_module(world.acme, "OrdersAPI", exposes=("GetOrder", "PlaceOrder")),
        "billing": make_module(world.acme, "Billing", exposes=("Invoice",)),
        "ledger": make_module(world.emca, "Ledger", exposes=("Post",)),
    }
