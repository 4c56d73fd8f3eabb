"""Reads for the permission pages and API: whole pages of levels in a constant number of queries."""

from dataclasses import dataclass, field
from typing import NamedTuple

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from core.levels import Level
from core.statements import KeysStatement, PageStatement
from permissions import door
from permissions.door import Source
from permissions.levels_sql import (
    authenticated,
    effective_level_expression,
    grant_level_subquery,
    team_level_subquery,
    team_name_subquery,
)
from permissions.models import Team
from registry.models import (
    Deployment,
    ExposedElement,
    Infrastructure,
    Membership,
    Module,
    ModuleVersion,
)


def _level_filter(value) -> Level | None:
    try:
        return Level.parse(value) if value else None
    except ValueError:
        return None


def catalog_keys(
    user, *, q: str = "", infrastructure=None, level: str = "", descriptions: bool = True
) -> QuerySet:
    """The catalog's modules (those `user` can reference), filtered and ordered, without
    per-row work: page this, then `catalog_rows` for the rows shown. `q` is a part of the
    name, or of the description unless `descriptions` is False (the API's `q`)."""
    qs = door.visible_modules(user, Level.REFERENCE)
    if q:
        qs = qs.filter(
            Q(name__icontains=q) | Q(description__icontains=q)
            if descriptions
            else Q(name__icontains=q)
        )
    if infrastructure:
        qs = qs.filter(infrastructure_id=infrastructure)
    wanted = _level_filter(level)
    if wanted is not None:
        qs = qs.filter(door.level_exactly_q(user, wanted))
    return qs.order_by("name", "id")


def current_deployment_keys(user, environment, *, q: str = "") -> QuerySet:
    """The current deployments in `environment` of the modules `user` can see, by module
    name, without per-row work: page this, then load the page's rows by pk (the
    environment page and GET /environments/{id}/deployments)."""
    deployments = Deployment.objects.filter(
        environment=environment,
        is_current=True,
        module__in=door.visible_modules(user).values("pk"),
    )
    if q:
        deployments = deployments.filter(module__name__icontains=q)
    return deployments.order_by("module__name", "module_id")


# The unsearched catalog's keys, compiled once per (user, infrastructure, level): the
# door's filter costs more to build and compile in Python than PostgreSQL takes to run it.
# Its SQL depends on the user's pk alone (levels_sql), never on their rows, so it stays
# right when their memberships, teams or grants change.
_CATALOG_KEYS = KeysStatement(
    lambda user, infrastructure, level: catalog_keys(
        user, infrastructure=infrastructure, level=level
    )
)


def catalog_page_keys(
    user, *, q: str = "", infrastructure=None, level: str = "", descriptions: bool = True
):
    """`catalog_keys` for `paginate_keys`: the same rows; without a text search (the
    catalog as first opened, or filtered by infrastructure or level) from SQL compiled
    once per user and filters."""
    if q or not authenticated(user):
        return catalog_keys(
            user, q=q, infrastructure=infrastructure, level=level, descriptions=descriptions
        )
    wanted = _level_filter(level)
    label = "" if wanted is None else wanted.label
    key = (int(user.pk), None if infrastructure is None else int(infrastructure), label)
    return _CATALOG_KEYS.keys(key, user, infrastructure, label)


def _latest_version_id():
    return Subquery(
        ModuleVersion.objects.filter(module=OuterRef("pk")).order_by("-number").values("id")[:1]
    )


def _loaded(model, db, **values):
    """A `model` instance as loaded from the database with only `values` (attnames); its
    other fields are deferred, so reading one is a query (and the query counts see it)."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    return model.from_db(db, names, [values[name] for name in names])


# The catalog's rows of one user: the modules, their infrastructure's name, their latest
# version and the user's level in one statement compiled once per user.
_CATALOG_ROWS = PageStatement(
    lambda user_pk, pks: (
        Module.objects.filter(pk__in=pks)
        .annotate(
            latest_version_id=_latest_version_id(),
            level=effective_level_expression(user_pk, among=pks),
        )
        .values_list(*door.MODULE_FIELDS, "infrastructure__name", "latest_version_id", "level")
    )
)


_PAGE_COLUMNS = ("pk", "name", "description", "latest_version_id", "infrastructure_name")
# The catalog page's rows as dicts, the same statement for every user and page: compiled
# once (the API's rows are catalog_rows, models with their level in one statement).
_PAGE_ROWS = PageStatement(
    lambda _key, pks: (
        Module.objects.filter(pk__in=pks)
        .annotate(latest_version_id=_latest_version_id())
        .values_list("pk", "name", "description", "latest_version_id", "infrastructure__name")
    )
)


def catalog_rows(user, pks) -> list:
    """The modules `pks` (a page of `catalog_keys`) with `level`, `latest_version_id` and
    their infrastructure (id and name; its other fields deferred): one query."""
    if not authenticated(user):
        rows = list(
            Module.objects.filter(pk__in=list(pks))
            .select_related("infrastructure")
            .annotate(latest_version_id=_latest_version_id())
        )
        return door.with_levels(user, rows)
    db = Module.objects.db
    rows, width = [], len(door.MODULE_FIELDS)
    for values in _CATALOG_ROWS.rows(int(user.pk), pks):
        module = Module.from_db(db, door.MODULE_FIELDS, values[:width])
        infrastructure_name, module.latest_version_id, level = values[width:]
        module.infrastructure = _loaded(
            Infrastructure, db, id=module.infrastructure_id, name=infrastructure_name
        )
        module.level = Level(level or 0)
        rows.append(module)
    return rows


def catalog_page_rows(user, pks) -> list[dict]:
    """The modules `pks` (a page of `catalog_keys`) as plain rows, the columns the catalog
    prints and nothing else: pk, name, description, infrastructure_name,
    latest_version_id, level. Dicts, not model instances: a page of 50 rows with their
    infrastructures built as models, and templates falling back from item to attribute
    lookup on each of them, cost more than the query."""
    rows = [
        dict(zip(_PAGE_COLUMNS, values, strict=True)) for values in _PAGE_ROWS.rows("catalog", pks)
    ]
    levels = door.levels_of(user, [row["pk"] for row in rows])
    for row in rows:
        row["level"] = levels[row["pk"]]
    return rows


def catalog_modules(user, *, q: str = "", infrastructure=None, level: str = "") -> QuerySet:
    """Modules `user` can reference, filtered, with `level` and `latest_version_id`. One query."""
    keys = catalog_keys(user, q=q, infrastructure=infrastructure, level=level)
    return (
        keys.select_related("infrastructure")
        .annotate(level=effective_level_expression(user))
        .annotate(latest_version_id=_latest_version_id())
    )


_EXPOSED = PageStatement(
    lambda _key, version_pks: ExposedElement.objects.filter(version_id__in=version_pks).values_list(
        "version_id", "name", "signature", "kind"
    )
)


class Element(NamedTuple):
    """One element a module's latest version exposes, as pages and the API list it."""

    name: str
    signature: str
    kind: str


def latest_interfaces(latest_versions: dict[int, int]) -> dict[int, list[Element]]:
    """{module id: the elements its latest version exposes, by name} for a page of modules,
    in one query; `latest_versions` maps each module's latest version id to the module id."""
    interfaces: dict[int, list[Element]] = {}
    rows = _EXPOSED.rows("exposed", latest_versions)
    for version_id, name, signature, kind in sorted(rows, key=lambda row: (row[1], row[2])):
        interfaces.setdefault(latest_versions[version_id], []).append(
            Element(name, signature, kind)
        )
    return interfaces


def interfaces_for(modules) -> dict[int, list[dict]]:
    """`latest_interfaces` of `catalog_page_rows` rows, each element a dict for the catalog
    page: name, signature, kind_label."""
    labels = {kind.value: str(kind.label).lower() for kind in ExposedElement.Kind}
    interfaces = latest_interfaces(
        {m["latest_version_id"]: m["pk"] for m in modules if m["latest_version_id"]}
    )
    return {
        pk: [
            {"name": e.name, "signature": e.signature, "kind_label": labels.get(e.kind, e.kind)}
            for e in elements
        ]
        for pk, elements in interfaces.items()
    }


def user_module_keys(membership: Membership, *, q: str = "", level: str = "") -> QuerySet:
    """Every module of the membership's infrastructure, filtered and ordered, without
    per-row work: page this, then `user_module_rows` for the rows shown."""
    qs = Module.objects.filter(infrastructure_id=membership.infrastructure_id)
    if q:
        qs = qs.filter(name__icontains=q)
    wanted = _level_filter(level)
    if wanted is not None:
        qs = qs.filter(door.level_exactly_q(membership.user, wanted))
    return qs.order_by("name", "id")


def _with_level_parts(qs: QuerySet, user, among=None) -> QuerySet:
    return qs.annotate(
        team_level=team_level_subquery(user),
        team_name=team_name_subquery(user),
        grant_level=grant_level_subquery(user),
        level=effective_level_expression(user, among=among),
    )


_MEMBER_LEVEL_PARTS = PageStatement(
    lambda user_pk, pks: _with_level_parts(
        Module.objects.filter(pk__in=pks), user_pk, among=pks
    ).values_list("pk", "level", "team_level", "team_name", "grant_level")
)


def user_module_rows(membership: Membership, pks) -> list:
    """The modules `pks` with the member's `level` and its parts (two queries: the rows,
    then their levels by a statement compiled once per member)."""
    rows = list(
        Module.objects.filter(infrastructure_id=membership.infrastructure_id, pk__in=list(pks))
    )
    parts = {row[0]: row[1:] for row in _MEMBER_LEVEL_PARTS.rows(membership.user_id, pks)}
    for module in rows:
        level, module.team_level, module.team_name, module.grant_level = parts.get(
            module.pk, (0, None, None, None)
        )
        module.level = level or 0
    return rows


def user_modules(membership: Membership, *, q: str = "", level: str = "") -> QuerySet:
    """Every module of the membership's infrastructure with the member's level and its parts.

    Annotates `team_level`, `team_name`, `grant_level` and `level` (effective). One query.
    """
    return _with_level_parts(user_module_keys(membership, q=q, level=level), membership.user)


def row_sources(
    *, membership: Membership, level, team_level, team_name, grant_level
) -> list[Source]:
    return door.sources_from_parts(
        level=level,
        infrastructure_name=membership.infrastructure.name,
        is_admin=membership.is_admin,
        default_level=membership.default_level,
        team_levels=[(team_name, team_level)] if team_level is not None else [],
        grant_level=grant_level,
    )


@dataclass
class PermissionRow:
    """One user's level on one module, and why."""

    user: object
    membership: Membership
    level: Level
    grant_level: Level
    sources: list[Source] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "username": self.user.username,
            "level": Level(self.level).label,
            "sources": [s.as_dict() for s in self.sources],
        }


def module_permission_keys(module: Module, *, q: str = "") -> QuerySet:
    """Members of the module's infrastructure by username, without per-row work: page
    this, then `module_permission_rows` for the rows shown."""
    memberships = Membership.objects.filter(infrastructure_id=module.infrastructure_id)
    if q:
        memberships = memberships.filter(user__username__icontains=q)
    return memberships.order_by("user__username", "id")


# The unsearched members' keys, compiled once per infrastructure (its id is all the SQL
# depends on).
_MEMBER_KEYS = KeysStatement(
    lambda infrastructure_id: module_permission_keys(Module(infrastructure_id=infrastructure_id))
)


def module_permission_page_keys(module: Module, *, q: str = ""):
    """`module_permission_keys` for `paginate_keys`: the same rows; without a search from
    SQL compiled once per infrastructure."""
    if q:
        return module_permission_keys(module, q=q)
    infrastructure_id = int(module.infrastructure_id)
    return _MEMBER_KEYS.keys(infrastructure_id, infrastructure_id)


def _with_module_level(memberships: QuerySet, module: Module) -> QuerySet:
    return memberships.select_related("user", "infrastructure").annotate(
        level=effective_level_expression(
            OuterRef("user"), module=module.pk, infrastructure=module.infrastructure_id
        ),
        team_level=team_level_subquery(OuterRef("user"), module.pk),
        team_name=team_name_subquery(OuterRef("user"), module.pk),
        grant_level=grant_level_subquery(OuterRef("user"), module.pk),
    )


_MEMBERSHIP_COLUMNS = ("id", "infrastructure_id", "user_id", "role", "default_level")
_USER_COLUMNS = ("id", "username")

_MODULE_PERMISSION_ROWS = PageStatement(
    lambda key, pks: _with_module_level(
        Membership.objects.filter(pk__in=pks, infrastructure_id=key[1]),
        Module(pk=key[0], infrastructure_id=key[1]),
    ).values_list(
        *_MEMBERSHIP_COLUMNS,
        "user__username",
        "level",
        "team_level",
        "team_name",
        "grant_level",
    )
)


def module_permission_rows(module: Module, pks) -> list:
    """The memberships `pks` (of the module's infrastructure) with the member's level on
    `module` and its parts: one query, by a statement compiled once per module. Each
    membership carries its user (id and username; other fields deferred) and the
    module's infrastructure."""
    db = Membership.objects.db
    user_model = Membership._meta.get_field("user").related_model
    rows = []
    key = (module.pk, module.infrastructure_id)
    for values in _MODULE_PERMISSION_ROWS.rows(key, pks):
        membership = _loaded(Membership, db, **dict(zip(_MEMBERSHIP_COLUMNS, values, strict=False)))
        username, level, team_level, team_name, grant_level = values[len(_MEMBERSHIP_COLUMNS) :]
        membership.user = _loaded(user_model, db, id=membership.user_id, username=username)
        membership.infrastructure = module.infrastructure
        membership.level = level or 0
        membership.team_level, membership.team_name = team_level, team_name
        membership.grant_level = grant_level
        rows.append(membership)
    return rows


def module_permission_memberships(module: Module, *, q: str = "") -> QuerySet:
    """Members of the module's infrastructure, annotated with their team and grant on it.

    Annotates `level` (effective) and the parts that explain it. One query per page;
    grants and teams of non-members count for nothing (see levels_sql), so the members
    are everyone with a level.
    """
    return _with_module_level(module_permission_keys(module, q=q), module)


def permission_rows(memberships) -> list[PermissionRow]:
    """Rows from annotated memberships, with their sources (no further queries)."""
    rows = []
    for m in memberships:
        sources = row_sources(
            membership=m,
            level=m.level,
            team_level=m.team_level,
            team_name=m.team_name,
            grant_level=m.grant_level,
        )
        rows.append(PermissionRow(m.user, m, Level(m.level), Level(m.grant_level or 0), sources))
    return rows


def module_permissions(module: Module, *, q: str = "") -> list[PermissionRow]:
    """Every member's level on `module` and why. One query."""
    return permission_rows(module_permission_memberships(module, q=q))


def infrastructure_members(infrastructure: Infrastructure, *, q: str = "") -> QuerySet:
    """The infrastructure's memberships by username, each user with `teams_here` (their
    teams in this infrastructure): two queries a page, whatever its length.
    """
    memberships = Membership.objects.filter(infrastructure=infrastructure)
    if q:
        memberships = memberships.filter(user__username__icontains=q)
    teams_here = Team.objects.filter(infrastructure=infrastructure).order_by("name")
    return (
        memberships.select_related("user")
        .prefetch_related(Prefetch("user__ipp_teams", queryset=teams_here, to_attr="teams_here"))
        .order_by("user__username")
    )


def _count_of(through, **match) -> Subquery:
    return Subquery(
        through.objects.filter(**match)
        .order_by()
        .values("team")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


def infrastructure_teams(infrastructure: Infrastructure, *, q: str = "") -> QuerySet:
    """The infrastructure's teams by name, with `member_count` and `module_count`.

    The counts are subqueries, not joins: a team of 10,000 modules and 100 members would
    otherwise make a million-row join for two numbers.
    """
    teams = Team.objects.filter(infrastructure=infrastructure)
    if q:
        teams = teams.filter(name__icontains=q)
    return teams.annotate(
        member_count=Coalesce(_count_of(Team.members.through, team=OuterRef("pk")), 0),
        module_count=Coalesce(_count_of(Team.modules.through, team=OuterRef("pk")), 0),
    ).order_by("name")


def team_modules(team: Team, *, q: str = "") -> QuerySet:
    """The team's modules by name, `q` a part of the name."""
    modules = team.modules.order_by("name", "id")
    return modules.filter(name__icontains=q) if q else modules


def modules_addable_to_team(team: Team, *, q: str = "") -> QuerySet:
    """Modules of the team's infrastructure not in the team yet, by name."""
    modules = Module.objects.filter(infrastructure_id=team.infrastructure_id).exclude(teams=team)
    if q:
        modules = modules.filter(name__icontains=q)
    return modules.order_by("name", "id")


def member_search(
    infrastructure: Infrastructure, *, q: str = "", not_in_team=None, not_user=None, limit: int
) -> tuple[list[tuple[str, str]], bool]:
    """([(username, role)], more?): the first `limit` members whose username contains `q`,
    leaving out the members of team `not_in_team` and the user `not_user`. One query.
    """
    memberships = Membership.objects.filter(infrastructure=infrastructure)
    if q:
        memberships = memberships.filter(user__username__icontains=q)
    if not_in_team is not None:
        memberships = memberships.exclude(user__ipp_teams=not_in_team)
    if not_user is not None:
        memberships = memberships.exclude(user=not_user)
    rows = list(
        memberships.order_by("user__username").values_list("user__username", "role")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit
