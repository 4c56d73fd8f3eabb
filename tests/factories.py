"""Factories for the suite's named personas and their world (plain ORM, no mocks)."""

import io
import uuid

from django.contrib.auth import get_user_model

from core.levels import Level
from registry.models import Environment, Infrastructure, Membership
from registry.packages import build_package

User = get_user_model()
PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, *, staff: bool = False, superuser: bool = False) -> User:
    user = User(username=username, email=f"{username}@example.test", is_staff=staff or superuser)
    user.is_superuser = superuser
    user.set_password(PASSWORD)
    user.save()
    return user


def make_infrastructure(
    name: str, *, platform: str = "o11", protected: bool = False
) -> Infrastructure:
    return Infrastructure.objects.create(name=name, platform=platform, ipp_protected=protected)


def make_environment(infrastructure: Infrastructure, name: str) -> Environment:
    return Environment.objects.create(infrastructure=infrastructure, name=name)


def make_member(
    infrastructure: Infrastructure,
    user,
    *,
    role: str = Membership.Role.MEMBER,
    default_level: int = Level.NONE,
    create_modules: bool = False,
) -> Membership:
    return Membership.objects.create(
        infrastructure=infrastructure,
        user=user,
        role=role,
        default_level=int(default_level),
        create_modules=create_modules,
    )


def manifest(
    *,
    key: str | None = None,
    name: str = "CustomerCore",
    exposes: list | None = None,
    references: list | None = None,
    description: str = "",
) -> dict:
    return {
        "format": 1,
        "key": key or str(uuid.uuid4()),
        "name": name,
        "description": description,
        "exposes": exposes
        if exposes is not None
        else [
            {
                "name": "GetCustomer",
                "kind": "server_action",
                "signature": "GetCustomer(Id: Integer) -> Customer",
            }
        ],
        "references": references or [],
    }


def package_bytes(man: dict | None = None, files: dict | None = None) -> bytes:
    return build_package(
        man or manifest(),
        files or {"Logic/GetCustomer.oml": b"-- secret logic of GetCustomer --\nreturn 42\n"},
    )


def package_file(man: dict | None = None, files: dict | None = None, name: str = "module.zip"):
    data = io.BytesIO(package_bytes(man, files))
    data.name = name
    return data
