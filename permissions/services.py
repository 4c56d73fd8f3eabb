"""Writes on module levels: per-module grants and teams.

Only administrators of the module's infrastructure manage levels (SPEC §3, §8). Support
does not, unless also an administrator there: support manages IPP, not who reads source.
Nobody changes their own level. A grant is one guardian object permission per (user,
module) whose codename is the granted level; changing it replaces the row.
Every service is keyword-only, runs in one transaction and writes its audit entry there.
These services are the only code that writes grants (guardian rows): nothing calls
guardian's `assign_perm`/`remove_perm`, and nothing asks `user.has_perm` about a module
(there is no guardian backend; the door answers).
"""

from collections.abc import Iterable, Mapping

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery

from audit.services import audit_event, audit_record, audit_record_all, audit_record_many
from core.batch import WriteBatch
from core.errors import NotAllowed, ValidationFailed
from core.levels import CODENAME_LEVELS, LEVEL_CODENAMES, Level
from permissions import door, selectors
from permissions.models import ModuleUserObjectPermission, Team
from registry.models import Infrastructure, Membership, Module

User = get_user_model()

GRANTABLE = [Level.NONE, Level.REFERENCE, Level.OPEN, Level.PUBLISH]


def _level(value) -> Level:
    """A Level from a Level, an int or a name ("reference"); ValidationFailed otherwise."""
    if isinstance(value, Level):
        return value
    try:
        if isinstance(value, str) and not value.isdigit():
            return Level.parse(value)
        return Level(int(value))
    except (ValueError, TypeError):
        raise ValidationFailed(
            f"unknown level {value!r}: use one of none, reference, open, publish"
        ) from None


def _require_admin(actor, infrastructure: Infrastructure) -> None:
    if not door.is_infrastructure_admin(actor, infrastructure):
        raise NotAllowed(f"Only administrators of {infrastructure.name} manage module levels.")


def _require_not_self(actor, user) -> None:
    if actor.pk == user.pk:
        raise NotAllowed("You cannot change your own level: ask another administrator.")


def _require_member(user, infrastructure: Infrastructure, *, lock: bool = False) -> None:
    """The user must be a member. With `lock`, their membership row is locked until the
    transaction ends: grant changes for one user in one infrastructure run one at a time,
    so two concurrent changes cannot leave two codenames on a (user, module)."""
    memberships = Membership.objects.filter(user=user, infrastructure=infrastructure)
    if lock:
        memberships = memberships.select_for_update()
    if memberships.first() is None:
        raise ValidationFailed(
            f"{user.username} is not a member of {infrastructure.name}: "
            f"add them as a member of {infrastructure.name} first."
        )


def _permissions_by_level() -> dict[Level, Permission]:
    # With their content type: guardian's save() checks it against the module's.
    rows = Permission.objects.filter(
        content_type__app_label="modules",
        content_type__model="module",
        codename__in=LEVEL_CODENAMES.values(),
    ).select_related("content_type")
    return {CODENAME_LEVELS[p.codename]: p for p in rows}


def _permission_id(level: Level) -> Subquery:
    """The id of `level`'s permission on modules, as a subquery for an INSERT."""
    return Subquery(
        Permission.objects.filter(
            content_type__app_label="modules",
            content_type__model="module",
            codename=LEVEL_CODENAMES[level],
        ).values("pk")[:1]
    )


def _current_grants(user, module_ids: Iterable[int]) -> dict[int, Level]:
    grants: dict[int, Level] = {}
    rows = ModuleUserObjectPermission.objects.filter(
        user=user, content_object_id__in=list(module_ids)
    ).values_list("content_object_id", "permission__codename")
    for module_id, codename in rows:
        level = CODENAME_LEVELS.get(codename, Level.NONE)
        grants[module_id] = max(grants.get(module_id, Level.NONE), level)
    return grants


def _change_event(
    *, actor, module: Module, user, before: Level, after: Level, source: str, **extra
):
    return audit_event(
        actor=actor,
        action="permission.changed",
        infrastructure=module.infrastructure,
        subject=module,
        details={
            "user": user.username,
            "module": module.name,
            "from": Level(before).label,
            "to": Level(after).label,
            "source": source,
            **extra,
        },
    )


def _audit_change(
    *, actor, module: Module, user, before: Level, after: Level, source: str, **extra
):
    audit_record_all(
        [
            _change_event(
                actor=actor,
                module=module,
                user=user,
                before=before,
                after=after,
                source=source,
                **extra,
            )
        ]
    )


def _replace_grant(*, actor, module: Module, user, level: Level, source: str) -> Level:
    """Replace `user`'s grant on `module` by `level` and audit it (caller's transaction,
    membership row already locked). Nothing is written when the grant is already `level`."""
    before = _current_grants(user, [module.pk]).get(module.pk, Level.NONE)
    if before == level:
        return level
    ModuleUserObjectPermission.objects.filter(user=user, content_object=module).delete()
    if level > Level.NONE:
        ModuleUserObjectPermission.objects.create(
            user=user, content_object=module, permission=_permissions_by_level()[level]
        )
    _audit_change(actor=actor, module=module, user=user, before=before, after=level, source=source)
    return level


def grant_set(*, actor, module: Module, user, level) -> Level:
    """Set `user`'s grant on `module` to `level` (none removes it). Returns the new grant."""
    level = _level(level)
    infrastructure = module.infrastructure
    _require_admin(actor, infrastructure)
    _require_not_self(actor, user)
    _require_member(user, infrastructure)
    with transaction.atomic():
        _require_member(user, infrastructure, lock=True)
        return _replace_grant(actor=actor, module=module, user=user, level=level, source="grant")


def grant_creator(
    *,
    user,
    module: Module,
    membership: Membership | None = None,
    pending=None,
    batch: WriteBatch | None = None,
) -> Level:
    """Give the creator of a new module `publish` on it (SPEC §3: "the creator gets
    `publish` on the new module"), with its `permission.changed` entry (source "creator").

    Call it in the transaction that creates the module, so the module, the grant and the
    entry commit together or not at all. The administrator-only and not-yourself checks
    of `grant_set` do not apply: nobody grants here, the creator rule of SPEC §3 is the
    authority, and whoever may create the module (publishing checks `create_modules` or
    administrator first) receives this grant. The creator must be a member of the
    module's infrastructure (levels only count for members); their membership row is
    locked like every other grant write, so grant changes for one user run one at a time.

    Publishing, which inserts the module in this very transaction, passes `membership`:
    the creator's membership row, which it locked (select_for_update) in this transaction
    before inserting the module, so it is not read again; and no earlier grant is looked
    for or deleted: no other transaction can see, let alone grant on, a row this one has
    inserted and not committed. With `pending` (a list), the entry is added to it for the
    caller to append with its own entries in one step (`audit_record_all`), in this
    transaction, instead of being appended now. With `batch` (core.batch.WriteBatch), the
    grant's row is added to it for the caller to flush, in this transaction.
    """
    infrastructure = module.infrastructure
    if membership is None:
        with transaction.atomic():
            _require_member(user, infrastructure, lock=True)
            return _replace_grant(
                actor=user, module=module, user=user, level=Level.PUBLISH, source="creator"
            )
    if membership.user_id != user.pk or membership.infrastructure_id != infrastructure.pk:
        raise ValueError("grant_creator: the membership given is not the creator's there")
    # The permission's id by a subquery in the INSERT: no read of auth_permission first.
    # Its content type is the module's by that subquery (guardian's save() checks it).
    grant = ModuleUserObjectPermission(
        user=user, content_object=module, permission_id=_permission_id(Level.PUBLISH)
    )
    writes = batch if batch is not None else WriteBatch()
    writes.insert(ModuleUserObjectPermission, [grant])
    if batch is None:
        writes.flush()
    event = _change_event(
        actor=user,
        module=module,
        user=user,
        before=Level.NONE,
        after=Level.PUBLISH,
        source="creator",
    )
    if pending is None:
        audit_record_all([event])
    else:
        pending.append(event)
    return Level.PUBLISH


def grants_set(
    *, actor, user, infrastructure: Infrastructure, changes: Mapping
) -> dict[int, Level]:
    """Set many grants of `user` in `infrastructure` at once: {module id: level}.

    All or nothing: a module id that is not a module of `infrastructure`, or a bad level,
    changes nothing. Returns the grants that changed.
    """
    _require_admin(actor, infrastructure)
    _require_not_self(actor, user)
    _require_member(user, infrastructure)
    try:
        wanted = {int(module_id): _level(level) for module_id, level in changes.items()}
    except (TypeError, ValueError):
        raise ValidationFailed("module ids must be integers") from None
    if not wanted:
        return {}
    with transaction.atomic():
        _require_member(user, infrastructure, lock=True)
        modules = {
            m.pk: m
            for m in Module.objects.filter(
                infrastructure=infrastructure, pk__in=list(wanted)
            ).select_related("infrastructure")
        }
        unknown = sorted(set(wanted) - set(modules))
        if unknown:
            raise ValidationFailed(
                f"not modules of {infrastructure.name}: {', '.join(map(str, unknown))}; nothing changed"
            )
        before = _current_grants(user, wanted)
        changed = {pk: level for pk, level in wanted.items() if before.get(pk, Level.NONE) != level}
        if not changed:
            return {}
        ModuleUserObjectPermission.objects.filter(
            user=user, content_object_id__in=list(changed)
        ).delete()
        permissions = _permissions_by_level()
        ModuleUserObjectPermission.objects.bulk_create(
            ModuleUserObjectPermission(
                user=user, content_object_id=pk, permission=permissions[level]
            )
            for pk, level in changed.items()
            if level > Level.NONE
        )
        for pk, level in sorted(changed.items()):
            _audit_change(
                actor=actor,
                module=modules[pk],
                user=user,
                before=before.get(pk, Level.NONE),
                after=level,
                source="grant",
                bulk=True,
            )
    return changed


def grants_set_matching(
    *, actor, user, infrastructure: Infrastructure, level, q: str = "", current: str = ""
) -> int:
    """Set `user`'s grant to `level` on every module of `infrastructure` matching the
    Modules tab's filter (`q` a part of the name, `current` the level they have now):
    the "select all N matching" of the page, across all its pages. Returns how many
    grants changed.

    Set-based whatever the number of modules: the changed modules are read once (for the
    audit), then one DELETE (level none) or one UPDATE of the existing grants and one
    INSERT ... SELECT of the missing ones. Each changed module gets its
    `permission.changed` entry, as with `grants_set` (so "granted by" still finds it),
    all appended at once under one signed tree head.
    """
    level = _level(level)
    _require_admin(actor, infrastructure)
    _require_not_self(actor, user)
    _require_member(user, infrastructure)
    with transaction.atomic():
        _require_member(user, infrastructure, lock=True)
        membership = Membership.objects.select_related("user").get(
            user=user, infrastructure=infrastructure
        )
        matching = selectors.user_modules(membership, q=q, level=current).order_by()
        # Two plain reads joined here: a per-row grant subquery over thousands of modules
        # is quadratic on SQLite.
        before = _grants_in(user, infrastructure)
        changed = [
            (pk, name, before.get(pk, Level.NONE))
            for pk, name in matching.order_by("name", "id").values_list("pk", "name")
            if before.get(pk, Level.NONE) != level
        ]
        if not changed:
            return 0
        # The level filter reads the very grants being changed, so each statement takes
        # the matching set as it was: the UPDATE in one statement, then the INSERT only of
        # modules with no grant, whose match the UPDATE could not change.
        grants = ModuleUserObjectPermission.objects.filter(
            user=user, content_object_id__in=matching.values("pk")
        )
        if level == Level.NONE:
            grants.delete()
        else:
            permission = _permissions_by_level()[level]
            grants.update(permission=permission)
            _insert_missing_grants(user, permission, matching)
        audit_record_many(
            actor=actor,
            action="permission.changed",
            infrastructure=infrastructure,
            records=(
                (
                    Module(pk=pk, name=name, infrastructure=infrastructure),
                    {
                        "user": user.username,
                        "module": name,
                        "from": Level(granted).label,
                        "to": level.label,
                        "source": "grant",
                        "bulk": True,
                        "all_matching": {"name": q, "level": current},
                    },
                )
                for pk, name, granted in changed
            ),
        )
    return len(changed)


def _grants_in(user, infrastructure: Infrastructure) -> dict[int, Level]:
    """{module id: level} of `user`'s grants on `infrastructure`'s modules. One query."""
    grants: dict[int, Level] = {}
    rows = ModuleUserObjectPermission.objects.filter(
        user=user, content_object__infrastructure=infrastructure
    ).values_list("content_object_id", "permission__codename")
    for module_id, codename in rows:
        level = CODENAME_LEVELS.get(codename, Level.NONE)
        grants[module_id] = max(grants.get(module_id, Level.NONE), level)
    return grants


def _insert_missing_grants(user, permission: Permission, modules: QuerySet) -> None:
    """INSERT ... SELECT: a grant of `permission` to `user` on each of `modules` that has
    none. Written in SQL because the ORM has no INSERT ... SELECT, and loading every id to
    bulk_create them would cost a round of parameters per module."""
    missing = (
        modules.order_by()
        .filter(
            ~Exists(
                ModuleUserObjectPermission.objects.filter(user=user, content_object=OuterRef("pk"))
            )
        )
        .values("pk")
    )
    sql, params = missing.query.sql_with_params()
    quote = connection.ops.quote_name
    grants = quote(ModuleUserObjectPermission._meta.db_table)
    modules_table = quote(Module._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {grants} (user_id, permission_id, content_object_id) "  # noqa: S608
            f"SELECT %s, %s, id FROM {modules_table} WHERE id IN ({sql})",
            [user.pk, permission.pk, *params],
        )


# Teams -----------------------------------------------------------------------------------


def _team_users(infrastructure: Infrastructure, users: Iterable) -> list:
    ids = {getattr(u, "pk", u) for u in users}
    members = list(
        User.objects.filter(pk__in=ids, memberships__infrastructure=infrastructure).distinct()
    )
    missing = ids - {u.pk for u in members}
    if missing:
        names = ", ".join(
            sorted(User.objects.filter(pk__in=missing).values_list("username", flat=True))
        ) or ", ".join(map(str, sorted(missing)))
        raise ValidationFailed(
            f"not members of {infrastructure.name}: {names}; add them as members first"
        )
    return members


def _team_modules(infrastructure: Infrastructure, modules: Iterable) -> list:
    ids = {getattr(m, "pk", m) for m in modules}
    found = list(Module.objects.filter(pk__in=ids, infrastructure=infrastructure))
    missing = ids - {m.pk for m in found}
    if missing:
        raise ValidationFailed(
            f"not modules of {infrastructure.name}: {', '.join(map(str, sorted(missing)))}"
        )
    return found


def _team_snapshot(team: Team) -> dict:
    return {
        "team": team.name,
        "level": Level(team.level).label,
        "members": sorted(team.members.values_list("username", flat=True)),
        "modules": sorted(team.modules.values_list("name", flat=True)),
    }


def _team_audit(*, actor, team: Team, action: str, before: dict | None) -> None:
    audit_record(
        actor=actor,
        action=action,
        infrastructure=team.infrastructure,
        subject=team,
        details={"from": before, "to": _team_snapshot(team), "source": "team"},
    )


def team_create(
    *,
    actor,
    infrastructure: Infrastructure,
    name: str,
    level=Level.REFERENCE,
    members: Iterable = (),
    modules: Iterable = (),
) -> Team:
    """Create a team of `infrastructure` giving `level` to its members on its modules."""
    _require_admin(actor, infrastructure)
    level = _level(level)
    with transaction.atomic():
        if Team.objects.filter(infrastructure=infrastructure, name=name).exists():
            raise ValidationFailed(f"{infrastructure.name} already has a team called {name!r}")
        team = Team(infrastructure=infrastructure, name=name, level=int(level))
        team.full_clean(validate_unique=False)
        team.save()
        team.members.set(_team_users(infrastructure, members))
        team.modules.set(_team_modules(infrastructure, modules))
        _team_audit(actor=actor, team=team, action="team.created", before=None)
    return team


def team_update(
    *,
    actor,
    team: Team,
    name: str | None = None,
    level=None,
    members: Iterable | None = None,
    modules: Iterable | None = None,
) -> Team:
    """Change a team's name, level, members and/or modules (whatever is given), at once."""
    infrastructure = team.infrastructure
    _require_admin(actor, infrastructure)
    with transaction.atomic():
        before = _team_snapshot(team)
        fields = []
        if name is not None and name != team.name:
            if (
                Team.objects.filter(infrastructure=infrastructure, name=name)
                .exclude(pk=team.pk)
                .exists()
            ):
                raise ValidationFailed(f"{infrastructure.name} already has a team called {name!r}")
            team.name = name
            fields.append("name")
        if level is not None and int(_level(level)) != team.level:
            team.level = int(_level(level))
            fields.append("level")
        if fields:
            team.full_clean(validate_unique=False)
            team.save(update_fields=fields)
        if members is not None:
            team.members.set(_team_users(infrastructure, members))
        if modules is not None:
            team.modules.set(_team_modules(infrastructure, modules))
        after = _team_snapshot(team)
        if after != before:
            _team_audit(actor=actor, team=team, action="team.changed", before=before)
    return team


def team_set_members(*, actor, team: Team, users: Iterable) -> Team:
    return team_update(actor=actor, team=team, members=users)


def team_set_modules(*, actor, team: Team, modules: Iterable) -> Team:
    return team_update(actor=actor, team=team, modules=modules)


def _ids(items: Iterable) -> set:
    return {getattr(item, "pk", item) for item in items}


def team_change(
    *, actor, team: Team, add_members=(), remove_members=(), add_modules=(), remove_modules=()
) -> Team:
    """Add and remove some of a team's members and modules; the others stay.

    The team row is locked while the new sets are worked out, so two administrators
    adding at once both keep what they added.
    """
    _require_admin(actor, team.infrastructure)
    with transaction.atomic():
        locked = Team.objects.select_for_update().select_related("infrastructure").get(pk=team.pk)
        members = modules = None
        if add_members or remove_members:
            current = set(locked.members.values_list("pk", flat=True))
            members = (current | _ids(add_members)) - _ids(remove_members)
        if add_modules or remove_modules:
            current = set(locked.modules.values_list("pk", flat=True))
            modules = (current | _ids(add_modules)) - _ids(remove_modules)
        return team_update(actor=actor, team=locked, members=members, modules=modules)


def team_empty(*, actor, team: Team) -> Team:
    """Take every member and module out of the team; the team itself stays."""
    return team_update(actor=actor, team=team, members=[], modules=[])


def team_delete(*, actor, team: Team) -> None:
    """Delete the team: its members lose what it gave them, at once. Audited `team.deleted`
    with what the team was."""
    _require_admin(actor, team.infrastructure)
    with transaction.atomic():
        locked = Team.objects.select_for_update().select_related("infrastructure").get(pk=team.pk)
        before = _team_snapshot(locked)
        audit_record(
            actor=actor,
            action="team.deleted",
            infrastructure=locked.infrastructure,
            subject=locked,
            details={"from": before, "to": None, "source": "team"},
        )
        locked.delete()


def grants_remove_all(*, user, infrastructure: Infrastructure) -> int:
    """Delete every grant of `user` on `infrastructure`'s modules (in the caller's
    transaction: removing a member, whose `membership.removed` entry records it).
    Returns how many went."""
    removed, _by_model = ModuleUserObjectPermission.objects.filter(
        user=user, content_object__infrastructure=infrastructure
    ).delete()
    return removed
