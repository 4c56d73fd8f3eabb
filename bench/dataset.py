"""The benchmark's data set, made in bulk: rows the services would have made, without the
services (which would take hours at SPEC scale).

One infrastructure (ACME) holds every module, member, grant and team; EMCA is the
destination of the transfers. Each module has a version with two exposed elements and
is deployed in ACME / Development; `extra_deployments` modules have a second version,
so Development also holds that many earlier (no longer current) deployments.

Personas (password `PASSWORD`):
- `developer`: member of ACME with default level reference, may create modules, in two
  teams (open on part of the modules, publish on the modules of the transfers) and
  granted open or publish on a few hundred modules: the door has every source to weigh;
- `admin`: administrator of ACME (the Permissions tab, the Modules tab, approvals);
- the `members` others: default levels none / reference, in teams, holding the grants.
"""

import hashlib
import random
import uuid
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import transaction

from core.levels import LEVEL_CODENAMES, Level
from permissions.models import ModuleUserObjectPermission, Team
from registry.models import (
    Deployment,
    Environment,
    ExposedElement,
    Infrastructure,
    Membership,
    Module,
    ModuleVersion,
)

PASSWORD = "bench-pass-2026"
BATCH = 2000


@dataclass(frozen=True)
class Size:
    modules: int
    members: int
    grants: int
    teams: int
    extra_deployments: int
    team_members: int
    team_modules: int


FULL = Size(
    modules=10_000,
    members=1_000,
    grants=200_000,
    teams=50,
    extra_deployments=500,
    team_members=40,
    team_modules=400,
)
QUICK = Size(
    modules=600,
    members=60,
    grants=6_000,
    teams=6,
    extra_deployments=30,
    team_members=10,
    team_modules=60,
)


@dataclass
class World:
    acme: Infrastructure
    emca: Infrastructure
    development: Environment
    developer: object
    admin: object
    transfer_modules: list  # module ids the developer may transfer (publish on each)
    permissions_module: Module  # the module whose Permissions tab and API are measured


def _bulk(model, rows):
    return model.objects.bulk_create(rows, batch_size=BATCH)


def _digest(n: int, version: int) -> str:
    return hashlib.sha256(f"{n}:{version}".encode()).hexdigest()


def build(size: Size, *, transfer_size: int) -> World:
    rng = random.Random(14)
    User = get_user_model()
    with transaction.atomic():
        acme = Infrastructure.objects.create(name="ACME", platform="o11")
        emca = Infrastructure.objects.create(name="EMCA", platform="o11")
        development = Environment.objects.create(infrastructure=acme, name="Development")
        Environment.objects.create(infrastructure=acme, name="Test")
        Environment.objects.create(infrastructure=acme, name="Production", protected=True)
        Environment.objects.create(infrastructure=emca, name="Development")

        hashed = make_password(PASSWORD)
        developer = User.objects.create(username="developer", password=hashed)
        admin = User.objects.create(username="admin", password=hashed)
        members = _bulk(
            User,
            [User(username=f"member{i:05d}", password="!") for i in range(size.members)],
        )
        _bulk(
            Membership,
            [
                Membership(
                    infrastructure=acme,
                    user=developer,
                    default_level=int(Level.REFERENCE),
                    create_modules=True,
                ),
                Membership(infrastructure=acme, user=admin, role=Membership.Role.ADMINISTRATOR),
                Membership(infrastructure=emca, user=admin, role=Membership.Role.ADMINISTRATOR),
                *[
                    Membership(
                        infrastructure=acme,
                        user=user,
                        default_level=int(Level.REFERENCE if i % 2 else Level.NONE),
                    )
                    for i, user in enumerate(members)
                ],
            ],
        )

        modules = _bulk(
            Module,
            [
                Module(
                    infrastructure=acme,
                    key=uuid.UUID(int=rng.getrandbits(128), version=4),
                    name=f"Module{n:05d}",
                    description=f"Module number {n} of the benchmark.",
                )
                for n in range(size.modules)
            ],
        )
        versions = _bulk(
            ModuleVersion,
            [
                ModuleVersion(
                    module=m,
                    number=1,
                    digest=_digest(n, 1),
                    name=m.name,
                    wrapped_key=b"bench",
                    master_key_id="bench",
                    source_files=3,
                    source_bytes=30_000,
                    published_by=developer,
                )
                for n, m in enumerate(modules)
            ],
        )
        _bulk(
            ExposedElement,
            [
                ExposedElement(version=v, name=name, kind=kind, signature=f"{name}()")
                for v in versions
                for name, kind in (("GetItem", "server_action"), ("Item", "entity"))
            ],
        )
        extra = modules[: size.extra_deployments]
        seconds = _bulk(
            ModuleVersion,
            [
                ModuleVersion(
                    module=m,
                    number=2,
                    digest=_digest(n, 2),
                    name=m.name,
                    wrapped_key=b"bench",
                    master_key_id="bench",
                    published_by=developer,
                )
                for n, m in enumerate(extra)
            ],
        )
        second_of = {v.module_id: v for v in seconds}
        _bulk(
            Deployment,
            [
                Deployment(
                    environment=development,
                    module_id=v.module_id,
                    version=v,
                    is_current=v.module_id not in second_of,
                    deployed_by=developer,
                )
                for v in versions
            ]
            + [
                Deployment(environment=development, module_id=v.module_id, version=v)
                for v in seconds
            ],
        )

        teams = _bulk(
            Team,
            [
                Team(infrastructure=acme, name=f"Team{t:03d}", level=int(1 + t % 3))
                for t in range(size.teams)
            ],
        )
        team_members, team_modules = Team.members.through, Team.modules.through
        member_rows, module_rows = [], []
        for t, team in enumerate(teams):
            for user in rng.sample(members, min(size.team_members, len(members))):
                member_rows.append(team_members(team_id=team.pk, user_id=user.pk))
            start = (t * size.team_modules) % max(1, len(modules) - size.team_modules)
            for m in modules[start : start + size.team_modules]:
                module_rows.append(team_modules(team_id=team.pk, module_id=m.pk))
        # The developer: open through the first team, publish on the transfer modules.
        transfer_modules = modules[-transfer_size:]
        publishers = Team.objects.create(
            infrastructure=acme, name="Publishers", level=int(Level.PUBLISH)
        )
        member_rows += [
            team_members(team_id=teams[0].pk, user_id=developer.pk),
            team_members(team_id=publishers.pk, user_id=developer.pk),
        ]
        module_rows += [
            team_modules(team_id=publishers.pk, module_id=m.pk) for m in transfer_modules
        ]
        _bulk(team_members, member_rows)
        _bulk(team_modules, module_rows)

        permission_ids = dict(
            Permission.objects.filter(
                codename__in=LEVEL_CODENAMES.values(), content_type__app_label="modules"
            ).values_list("codename", "pk")
        )
        codenames = list(LEVEL_CODENAMES.values())
        grants, seen = [], set()
        per_member = max(1, size.grants // max(1, len(members)))
        for i, user in enumerate(members):
            for j in range(per_member):
                module = modules[(i * 7919 + j * 13) % len(modules)]
                if (user.pk, module.pk) in seen:
                    continue
                seen.add((user.pk, module.pk))
                grants.append(
                    ModuleUserObjectPermission(
                        user=user,
                        content_object=module,
                        permission_id=permission_ids[codenames[(i + j) % 3]],
                    )
                )
        # The module of the Permissions tab: every member holds a grant on it.
        target = modules[len(modules) // 2]
        grants += [
            ModuleUserObjectPermission(
                user=user, content_object=target, permission_id=permission_ids["open_module"]
            )
            for user in members
            if (user.pk, target.pk) not in seen
        ]
        grants += [
            ModuleUserObjectPermission(
                user=developer,
                content_object=m,
                permission_id=permission_ids[codenames[1 + n % 2]],
            )
            for n, m in enumerate(modules[1 : len(modules) // 20])
        ]
        _bulk(ModuleUserObjectPermission, grants)
    return World(
        acme=acme,
        emca=emca,
        development=development,
        developer=developer,
        admin=admin,
        transfer_modules=[m.pk for m in transfer_modules],
        permissions_module=target,
    )


def counts() -> dict:
    return {
        "modules": Module.objects.count(),
        "members": Membership.objects.count(),
        "grants": ModuleUserObjectPermission.objects.count(),
        "teams": Team.objects.count(),
        "deployments_in_development": Deployment.objects.filter(
            environment__name="Development", environment__infrastructure__name="ACME"
        ).count(),
    }
