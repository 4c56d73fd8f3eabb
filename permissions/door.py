"""The one door for module permissions. Every view, endpoint and choice field uses it.

- `modules_for_user(user, level)`: the modules the user has at least `level` on, each
  annotated with `level` (the user's effective level), in one SQL query.
- `module_for_user(user, pk, level)`: one module, or Http404 when the user has no level
  on it (its existence is not disclosed), PermissionDenied when the level is short.
- `explain_level(user, module)`: every source of the user's level on one module, and
  which one wins (for the "why does this user have this level" pages).
- `may_deploy(user, environment)`: whether the environment's protection lets the user
  publish or deploy there (the module level is asked separately);
  `deployable_environments(user)` the environments where it does (a queryset, for choices);
  `may_upload(user, environment)` whether any package upload there could be accepted.

Effective level = highest of: administrator of the module's infrastructure (publish), the
member's default level there, the levels of the user's teams that include the module, and
per-module grants (guardian object permissions, one codename per user and module).
The rule is written once, as SQL: `levels_sql.effective_level_expression`; everything
here (filters, annotations, single-module checks) is built from it.

Levels only count while the user is a member of the module's infrastructure: removing a
membership takes every level there away at once, and a stray grant or team row of a
non-member discloses nothing. Support (is_staff/superuser) gets nothing for being support.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import Exact
from django.http import Http404

from audit.models import AuditEntry
from core.levels import Level
from core.statements import PageStatement
from permissions.levels_sql import authenticated as _authenticated
from permissions.levels_sql import (
    effective_level_expression,
    grant_level_case,
    level_at_least_condition,
    strong_membership,
)
from permissions.models import Deployer, ModuleUserObjectPermission, Team
from registry.models import Environment, Infrastructure, Membership, Module


def level_at_least_q(user, level: Level) -> Q:
    """A filter on modules: `user`'s effective level is at least `level` (>= reference)."""
    return level_at_least_condition(user, level)


def level_exactly_q(user, level: Level) -> Q:
    """A filter on modules: `user`'s effective level is exactly `level` (none included)."""
    return Q(Exact(effective_level_expression(user), int(Level(int(level)))))


def modules_for_user(
    user, level: Level = Level.REFERENCE, queryset: QuerySet | None = None
) -> QuerySet:
    """Modules on which `user` has at least `level`, annotated with `level`. One query.

    Filter and annotation are the one level expression (levels_sql); the filter does not
    refer to the annotation, so count() drops the annotation.
    """
    qs = visible_modules(user, level, queryset)
    if not _authenticated(user):
        return qs
    return qs.annotate(level=effective_level_expression(user))


def visible_modules(user, level: Level = Level.REFERENCE, queryset: QuerySet | None = None):
    """Modules on which `user` has at least `level`, without their level (one query).

    For lists: page this, then `levels_of(user, page)` computes the level of the rows
    shown only (a deep page then costs what the first does).
    """
    qs = queryset if queryset is not None else Module.objects.all()
    if not _authenticated(user):
        return qs.none()
    return qs.filter(level_at_least_condition(user, level))


def visible_modules_in(user, infrastructure, level: Level = Level.REFERENCE) -> QuerySet:
    """`visible_modules(user, level)` of one infrastructure (no level annotation).

    When the user's membership there gives `level` on every module by itself
    (administrator, or a default level that high), that is simply the infrastructure's
    modules: the list's count and page then skip the per-module filter. One query to ask.
    """
    modules = Module.objects.filter(infrastructure=infrastructure)
    if not _authenticated(user):
        return modules.none()
    level = Level(max(int(level), int(Level.REFERENCE)))
    if Membership.objects.filter(
        strong_membership(level), user=user, infrastructure=infrastructure
    ).exists():
        return modules
    return visible_modules(user, level, modules)


# "Levels of these modules" for one user: compiled once per user (compiling the level
# CASE costs more than running it), then run with each page's modules.
_LEVELS = PageStatement(
    lambda user_pk, pks: (
        Module.objects.filter(pk__in=pks)
        .annotate(level=effective_level_expression(user_pk, among=pks))
        .values_list("pk", "level")
    )
)


def levels_of(user, modules) -> dict[int, Level]:
    """{module pk: `user`'s effective level} for `modules` (rows or pks), one query a page."""
    pks = [int(getattr(m, "pk", m)) for m in modules]
    if not pks or not _authenticated(user):
        return dict.fromkeys(pks, Level.NONE)
    found = dict(_LEVELS.rows(int(user.pk), pks))
    return {pk: Level(found.get(pk) or 0) for pk in pks}


def with_levels(user, modules: list) -> list:
    """Sets `level` on each of `modules` (rows a door-filtered list gave): `levels_of`."""
    levels = levels_of(user, modules)
    for module in modules:
        module.level = levels[module.pk]
    return modules


def effective_level(user, module: Module) -> Level:
    """The user's effective level on one module, in one query."""
    if not _authenticated(user):
        return Level.NONE
    row = (
        Module.objects.filter(pk=module.pk)
        .annotate(level=effective_level_expression(user))
        .values_list("level", flat=True)
        .first()
    )
    return Level(row or 0)


def _require_level(module: Module, level: Level) -> Module:
    if module.level < level:
        raise PermissionDenied(
            f"You have {Level(module.level).label} on {module.name}; this needs {Level(level).label}."
        )
    return module


def module_for_user(
    user, pk, level: Level = Level.REFERENCE, queryset: QuerySet | None = None
) -> Module:
    """The module `pk`: 404 when the user has no level on it, 403 when below `level`."""
    qs = queryset if queryset is not None else Module.objects.select_related("infrastructure")
    try:
        module = modules_for_user(user, Level.REFERENCE, qs).get(pk=pk)
    except (Module.DoesNotExist, ValueError, TypeError):
        raise Http404("No such module.") from None
    module._level_of = user.pk  # whose level `module.level` is (require_module_level)
    return _require_level(module, level)


def require_module_level(user, module: Module, level: Level) -> Module:
    """`module_for_user(user, module.pk, level)`; without a query when `module` is what
    module_for_user gave for this user earlier in the request (its level is on it): a
    service checking again what its view just checked costs nothing."""
    if user.pk is not None and getattr(module, "_level_of", None) == user.pk:
        return _require_level(module, level)
    return module_for_user(user, module.pk, level)


def modules_by_pk_for_user(
    user, pks, level: Level = Level.REFERENCE, queryset: QuerySet | None = None
) -> dict:
    """`module_for_user` for many modules in one query: {pk: module}, in the order given.

    404 when any of them is invisible to the user, 403 when any is below `level`.
    """
    try:
        wanted = list(dict.fromkeys(int(pk) for pk in pks))
    except (ValueError, TypeError):
        raise Http404("No such module.") from None
    qs = queryset if queryset is not None else Module.objects.select_related("infrastructure")
    found = {m.pk: m for m in modules_for_user(user, Level.REFERENCE, qs).filter(pk__in=wanted)}
    if len(found) != len(wanted):
        raise Http404("No such module.")
    return {pk: _require_level(found[pk], level) for pk in wanted}


@dataclass(frozen=True)
class Source:
    """One reason a user has a level on a module."""

    kind: str  # "administrator" | "default" | "team" | "grant"
    level: Level
    label: str  # "administrator of ACME", "default of ACME", "team Contractors", "grant"
    name: str = ""  # the team's name, or who granted (when the audit log says)
    wins: bool = False

    def as_dict(self) -> dict:
        data = {"kind": self.kind, "level": Level(self.level).label}
        if self.name:
            data["name"] = self.name
        return data


def _mark_winner(sources: list[Source], level: int) -> list[Source]:
    """Flag the first source at the effective `level` (ties: the listed order wins)."""
    marked, done = [], False
    for source in sources:
        wins = not done and level > Level.NONE and source.level == level
        done = done or wins
        marked.append(Source(source.kind, source.level, source.label, source.name, wins))
    return marked


def sources_from_parts(
    *,
    level: int,
    infrastructure_name: str,
    is_admin: bool,
    default_level: int | None,
    team_levels: list[tuple[str, int]] = (),
    grant_level: int | None = None,
    granted_by: str = "",
) -> list[Source]:
    """The source list from facts already loaded (no queries), the one at the effective
    `level` (computed in SQL by levels_sql) flagged as the winner. Non-members: []."""
    if default_level is None:
        return []
    sources = []
    if is_admin:
        sources.append(
            Source("administrator", Level.PUBLISH, f"administrator of {infrastructure_name}")
        )
    sources.append(Source("default", Level(default_level), f"default of {infrastructure_name}"))
    for team_name, team_level in team_levels:
        sources.append(Source("team", Level(team_level), f"team {team_name}", team_name))
    if grant_level:
        label = f"grant by {granted_by}" if granted_by else "grant"
        sources.append(Source("grant", Level(grant_level), label, granted_by))
    return _mark_winner(sources, level)


def explain_level(user, module: Module) -> list[Source]:
    """Every source of `user`'s level on `module`, the winner flagged. Four queries at most.

    Empty when the user is not a member of the module's infrastructure (no level at all).
    """
    if not _authenticated(user):
        return []
    membership = (
        Membership.objects.filter(user=user, infrastructure_id=module.infrastructure_id)
        .select_related("infrastructure")
        .annotate(
            level=effective_level_expression(
                user, module=module.pk, infrastructure=module.infrastructure_id
            )
        )
        .first()
    )
    if membership is None:
        return []
    teams = list(
        Team.objects.filter(members=user, modules=module)
        .order_by("-level", "name")
        .values_list("name", "level")
    )
    grant = (
        ModuleUserObjectPermission.objects.filter(user=user, content_object=module)
        .annotate(granted=grant_level_case())
        .order_by("-granted")
        .values_list("granted", flat=True)
        .first()
    )
    return sources_from_parts(
        level=membership.level,
        infrastructure_name=membership.infrastructure.name,
        is_admin=membership.is_admin,
        default_level=membership.default_level,
        team_levels=teams,
        grant_level=grant,
        granted_by=_granted_by(user, module) if grant else "",
    )


def _granted_by(user, module: Module) -> str:
    """Who made the current grant, from the audit log's last `permission.changed` entry."""
    return (
        AuditEntry.objects.filter(
            action="permission.changed",
            subject_type="module",
            subject_id=str(module.pk),
            details__user=user.username,
            details__source="grant",
        )
        .order_by("-seq")
        .values_list("actor_name", flat=True)
        .first()
        or ""
    )


def membership_for(
    user, infrastructure, *, for_update: bool = False, module_key=None
) -> Membership | None:
    """The user's membership row in `infrastructure`, or None. `for_update` locks it until
    the transaction ends (a grant write that follows: see permissions.services).
    `module_key`: the row also carries `module_pk`, the pk of the module with that key in
    `infrastructure` or None (a publish's precheck: one query for both)."""
    if not _authenticated(user):
        return None
    # One row at most (unique): no ordering, so no join for Membership's default one.
    rows = Membership.objects.filter(user=user, infrastructure=infrastructure).order_by()
    if module_key is not None:
        same_key = Module.objects.filter(
            infrastructure=OuterRef("infrastructure_id"), key=module_key
        ).order_by()
        rows = rows.annotate(module_pk=Subquery(same_key.values("pk")[:1]))
    if for_update:
        rows = rows.select_for_update()
    return rows.first()


def is_infrastructure_admin(user, infrastructure) -> bool:
    if not _authenticated(user):
        return False
    return Membership.objects.filter(
        user=user, infrastructure=infrastructure, role=Membership.Role.ADMINISTRATOR
    ).exists()


def is_support(user) -> bool:
    return bool(_authenticated(user) and (user.is_staff or user.is_superuser))


def infrastructures_for_user(user) -> QuerySet:
    """Support sees every infrastructure; anyone else those they are a member of."""
    if not _authenticated(user):
        return Infrastructure.objects.none()
    if is_support(user):
        return Infrastructure.objects.all()
    return Infrastructure.objects.filter(
        pk__in=Membership.objects.filter(user=user).values("infrastructure")
    )


def infrastructure_for_user(user, pk) -> Infrastructure:
    """One infrastructure the user may see, else 404."""
    try:
        return infrastructures_for_user(user).get(pk=pk)
    except (Infrastructure.DoesNotExist, ValueError, TypeError):
        raise Http404("No such infrastructure.") from None


def administered_infrastructure_for_user(user, pk) -> Infrastructure:
    """An infrastructure the user administers: 404 when invisible, 403 when only visible."""
    infrastructure = infrastructure_for_user(user, pk)
    if not is_infrastructure_admin(user, infrastructure):
        raise PermissionDenied(f"Only administrators of {infrastructure.name} may do this.")
    return infrastructure


# A Module's columns in order, for rows read with values_list and rebuilt with from_db.
MODULE_FIELDS = tuple(f.attname for f in Module._meta.concrete_fields)
_INFRASTRUCTURE_FIELDS = [f.attname for f in Infrastructure._meta.concrete_fields]
# A module with its infrastructure and whether `user_pk` administers it: compiled once per
# user (building and compiling it cost more than running it).
_ADMINISTERED = PageStatement(
    lambda user_pk, pks: (
        Module.objects.filter(pk__in=pks)
        .annotate(
            administered=Exists(
                Membership.objects.filter(
                    user_id=user_pk,
                    infrastructure=OuterRef("infrastructure"),
                    role=Membership.Role.ADMINISTRATOR,
                )
            )
        )
        .values_list(
            *MODULE_FIELDS,
            *(f"infrastructure__{name}" for name in _INFRASTRUCTURE_FIELDS),
            "administered",
        )
    )
)


def administered_module_for_user(user, pk) -> Module:
    """A module whose infrastructure the user administers: 404 invisible, 403 otherwise.

    One query when the user administers it (an administrator has publish on every module
    of the infrastructure, so the module is visible to them); otherwise the door's
    visibility filter decides between 404 and 403. The level itself is not computed:
    nothing here reads it, and the level CASE costs more to compile than a page's rows.
    """
    if not _authenticated(user):
        raise Http404("No such module.")
    try:
        wanted = int(pk)
    except (ValueError, TypeError):
        raise Http404("No such module.") from None
    rows = _ADMINISTERED.rows(int(user.pk), [wanted]) if 0 < wanted < 2**63 else []
    if not rows:
        raise Http404("No such module.")
    *values, administered = rows[0]
    db, split = Module.objects.db, len(MODULE_FIELDS)
    module = Module.from_db(db, MODULE_FIELDS, values[:split])
    module.infrastructure = Infrastructure.from_db(db, _INFRASTRUCTURE_FIELDS, values[split:])
    if administered:
        return module
    if not visible_modules(user, Level.REFERENCE).filter(pk=module.pk).exists():
        raise Http404("No such module.")
    raise PermissionDenied(
        f"Only administrators of {module.infrastructure.name} manage levels on {module.name}."
    )


def environments_for_user(user) -> QuerySet:
    return Environment.objects.filter(
        infrastructure__in=infrastructures_for_user(user)
    ).select_related("infrastructure")


def environment_for_user(user, pk) -> Environment:
    """One environment of an infrastructure the user may see, else 404."""
    try:
        return environments_for_user(user).get(pk=pk)
    except (Environment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such environment.") from None


def may_deploy(user, environment: Environment) -> bool:
    """SPEC §3: whether `user` may publish or deploy into `environment` as far as its
    protection goes. An unprotected environment lets anyone through (their level on the
    module still decides); a protected one only administrators of its infrastructure and
    the members named as its deployers. Support gets nothing for being support.
    """
    if not environment.protected:
        return True
    if not _authenticated(user):
        return False
    if is_infrastructure_admin(user, environment.infrastructure_id):
        return True
    return Deployer.objects.filter(
        environment=environment,
        membership__user=user,
        membership__infrastructure_id=environment.infrastructure_id,
    ).exists()


def deployable_environments(user) -> QuerySet:
    """The environments `user` may see whose protection lets them publish or deploy there
    (`may_deploy` as one SQL filter, for choice fields). Module levels still apply."""
    qs = environments_for_user(user)
    if not _authenticated(user):
        return qs.none()
    administered = Membership.objects.filter(user=user, role=Membership.Role.ADMINISTRATOR).values(
        "infrastructure"
    )
    named = Deployer.objects.filter(membership__user=user).values("environment")
    return qs.filter(Q(protected=False) | Q(infrastructure__in=administered) | Q(pk__in=named))


def may_upload(user, environment: Environment) -> bool:
    """Whether some package upload into `environment` could be accepted from `user`: the
    protection lets them in, and they are a member who administers the infrastructure,
    may create modules there, or has publish on one of its modules. Pages offer the
    upload form on this; each publish still decides on its own package."""
    membership = membership_for(user, environment.infrastructure_id)
    if membership is None or not may_deploy(user, environment):
        return False
    if membership.is_admin or membership.create_modules:
        return True
    return (
        visible_modules(user, Level.PUBLISH)
        .filter(infrastructure_id=environment.infrastructure_id)
        .exists()
    )
