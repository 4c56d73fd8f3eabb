"""The effective-level rule of SPEC §3, written once, as SQL.

`effective_level_expression(user, module=…, infrastructure=…)` is an integer expression
(0 none … 3 publish): the user's effective level on the module of the current row. Every
list, filter, annotation and single-object check of permissions/ is built from it.

The rule: a user who is not a member of the module's infrastructure has none (stray
grant or team rows of a non-member count for nothing). A member has the highest of:
publish when administrator, their default level, the levels of their teams that include
the module, and their grant on the module (a guardian object permission whose codename
says the level).

Written as "the highest L that some source reaches" rather than as max(sources), because
"some source reaches L" is a handful of uncorrelated `IN (subquery)` tests when the user
is fixed: PostgreSQL runs each subquery once and probes a hash per row, so filtering
10,000 modules on the level costs about what filtering on one source does, and a page
of 50 computes nothing per row beyond hash probes. (max() of correlated subqueries, the
obvious form, ran three index probes per module for the filter: 600 ms at that scale.)
See README.md, "Query plan".

`team_level_subquery`, `team_name_subquery` and `grant_level_subquery` are the parts the
pages show next to the level ("team Contractors: reference, grant: open"); they explain
the level, they do not decide it.
"""

from django.db.models import (
    Case,
    CharField,
    Expression,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.lookups import In

from core.levels import LEVEL_CODENAMES, Level
from permissions.models import ModuleUserObjectPermission, Team
from registry.models import Membership

# Highest first: the first level some source reaches is the effective level.
_GRANTED_LEVELS = (Level.PUBLISH, Level.OPEN, Level.REFERENCE)


def authenticated(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", True))


def _constant(value) -> int | None:
    """The pk when `value` is a model or a pk; None when it is an expression (a column)."""
    if hasattr(value, "resolve_expression"):
        return None
    return int(value.pk if isinstance(value, Model) else value)


def _as_expression(value, constant: int | None) -> Expression:
    if constant is None:
        return value
    return Value(constant, output_field=IntegerField())


def _user_ref(user):
    """What a subquery filters `user=` on: the user's pk, or the row's user (OuterRef)."""
    return user if hasattr(user, "resolve_expression") else getattr(user, "pk", user)


class _Row:
    """The current row as the expression sees it: who, which module, which infrastructure.

    Its subqueries drop the models' default ordering (`order_by()`): inside `IN (…)` it
    is useless, and Membership's would join users and infrastructures for nothing.

    `module_pk`/`infrastructure_pk` are set when the caller named one module: each
    subquery is then narrowed to it as well, so that with a per-row user (a page of
    members of one module) each test is an index probe on (module, user) instead of a
    scan of the user's grants. Narrowing only repeats what `module IN (…)` already says.
    """

    def __init__(self, user, module, infrastructure, among=None):
        self.user = _user_ref(user)
        self.among = None if among is None else list(among)
        self.module_pk, self.infrastructure_pk = _constant(module), _constant(infrastructure)
        self.module = _as_expression(module, self.module_pk)
        self.infrastructure = _as_expression(infrastructure, self.infrastructure_pk)

    def memberships(self, *conditions: Q):
        """SQL: the infrastructures of the user's memberships meeting `conditions`."""
        narrow = (
            {} if self.infrastructure_pk is None else {"infrastructure": self.infrastructure_pk}
        )
        memberships = Membership.objects.filter(*conditions, user=self.user, **narrow)
        return memberships.order_by().values("infrastructure")

    def granted(self, level: Level):
        """SQL: the modules on which the user holds a grant of `level` or more."""
        codenames = [codename for lvl, codename in LEVEL_CODENAMES.items() if lvl >= level]
        narrow = {} if self.module_pk is None else {"content_object": self.module_pk}
        if self.among is not None:
            narrow["content_object__in"] = self.among
        grants = ModuleUserObjectPermission.objects.filter(
            user=self.user, permission__codename__in=codenames, **narrow
        )
        return grants.order_by().values("content_object")

    def teamed(self, level: Level):
        """SQL: the modules of the user's teams of `level` or more."""
        # One filter() call: a second one on `modules` would join the modules table again.
        narrow = (
            {"modules__isnull": False} if self.module_pk is None else {"modules": self.module_pk}
        )
        if self.among is not None:
            narrow["modules__in"] = self.among
        teams = Team.objects.filter(members=self.user, level__gte=int(level), **narrow)
        return teams.order_by().values("modules")


def _is_member(row: _Row) -> Q:
    return Q(In(row.infrastructure, row.memberships()))


def strong_membership(level: Level) -> Q:
    """On memberships: one that gives `level` or more on every module of its
    infrastructure by itself (administrator, or a default level of `level` or more)."""
    return Q(role=Membership.Role.ADMINISTRATOR) | Q(default_level__gte=int(level))


def _some_source_reaches(level: Level, row: _Row) -> Q:
    """SQL: one of the member's sources is at least `level` (membership checked apart)."""
    strong = strong_membership(level)
    return (
        Q(In(row.infrastructure, row.memberships(strong)))
        | Q(In(row.module, row.granted(level)))
        | Q(In(row.module, row.teamed(level)))
    )


def effective_level_expression(
    user, *, module=F("pk"), infrastructure=F("infrastructure"), among=None
) -> Expression:
    """SQL: `user`'s effective level (0-3) on the module of the current row.

    - `user`: a user (anonymous or inactive: the expression is the constant 0), a user
      pk, or `OuterRef("user")` when each row carries its own user (a page of members).
      A per-row user's `is_active` is not looked at: such pages show what the rows grant.
    - `module`, `infrastructure`: the current row's module and its infrastructure.
      The defaults fit rows of modules; for one module pass it (or its pk) and its
      infrastructure (or pk).
    - `among`: module pks the current row's module is one of (a page of rows by pk). Every
      grant and team source is narrowed to them as well: that says nothing new about the
      row, but each subquery then reads the page's few rows instead of all of the user's.
    """
    if not hasattr(user, "resolve_expression") and not isinstance(user, int):
        if not authenticated(user):
            return Value(int(Level.NONE), output_field=IntegerField())
    row = _Row(user, module, infrastructure, among)
    return Case(
        When(~_is_member(row), then=Value(int(Level.NONE))),
        *[
            When(_some_source_reaches(level, row), then=Value(int(level)))
            for level in _GRANTED_LEVELS
        ],
        default=Value(int(Level.NONE)),
        output_field=IntegerField(),
    )


def level_at_least_condition(
    user, level: Level, *, module=F("pk"), infrastructure=F("infrastructure")
) -> Q:
    """SQL: `user`'s effective level on the current row's module is at least `level`
    (reference or more); the same rule as `effective_level_expression(...) >= level`.

    The effective level is the highest level some source reaches, and a source reaching
    a level reaches every lower one, so "at least L" is "a member, and some source reaches
    L": written so, the test is four hashed `IN (subquery)` probes per row instead of the
    whole CASE (which a filter on visibility, the catalog's and every list's, does not
    need); an administrator or a default level of L or more already says "member".
    """
    level = Level(max(int(level), int(Level.REFERENCE)))
    if not hasattr(user, "resolve_expression") and not isinstance(user, int):
        if not authenticated(user):
            return Q(pk__in=[])
    row = _Row(user, module, infrastructure)
    strong = strong_membership(level)
    return Q(In(row.infrastructure, row.memberships(strong))) | (
        _is_member(row)
        & (Q(In(row.module, row.granted(level))) | Q(In(row.module, row.teamed(level))))
    )


# The parts shown next to a level (explaining it, not deciding it) ---------------------


def grant_level_case():
    """SQL, on grant rows: the level the row's codename grants."""
    return Case(
        *[
            When(permission__codename=codename, then=Value(int(level)))
            for level, codename in LEVEL_CODENAMES.items()
        ],
        default=Value(0),
        output_field=IntegerField(),
    )


def grant_level_subquery(user_ref, module_ref=OuterRef("pk")):
    """SQL: the level granted to `user_ref` on `module_ref` (NULL when no grant)."""
    return Subquery(
        ModuleUserObjectPermission.objects.filter(user=user_ref, content_object=module_ref)
        .annotate(granted=grant_level_case())
        .order_by("-granted")
        .values("granted")[:1],
        output_field=IntegerField(),
    )


def _top_team(user_ref, module_ref, field: str, output_field):
    return Subquery(
        Team.objects.filter(members=user_ref, modules=module_ref)
        .order_by("-level", "name")
        .values(field)[:1],
        output_field=output_field,
    )


def team_level_subquery(user_ref, module_ref=OuterRef("pk")):
    """SQL: the highest level of the user's teams that include the module (NULL if none)."""
    return _top_team(user_ref, module_ref, "level", IntegerField())


def team_name_subquery(user_ref, module_ref=OuterRef("pk")):
    """SQL: the name of that team (the first by name among equals)."""
    return _top_team(user_ref, module_ref, "name", CharField())
