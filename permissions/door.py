"""The one door for module permissions. Every view, endpoint and choice field uses it.

- `modules_for_user(user, level)`: the modules the user has at least `level` on, each
  annotated with `level` (the user's effective level), in one SQL query.
- `module_for_user(user, pk, level)`: one module, or Http404 when the user has no level
  on it (its existence is not disclosed), PermissionDenied when the level is short.

Effective level = highest of: administrator of the module's infrastructure (publish), the
member's default level there, the levels of the user's teams that include the module, and
per-module grants. Support (is_staff/superuser) gets nothing for being support.
"""
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.http import Http404

from modules.models import Environment, Infrastructure, Membership, Module
from permissions.levels import LEVEL_CODENAMES, Level
from permissions.models import ModuleUserObjectPermission, Team


def _grant_level_expression():
    return Case(
        *[When(permission__codename=codename, then=Value(int(level))) for level, codename in LEVEL_CODENAMES.items()],
        default=Value(0),
        output_field=IntegerField(),
    )


def level_annotation(user, module_ref=OuterRef("pk"), infrastructure_ref=OuterRef("infrastructure")):
    """An SQL expression for `user`'s effective level on the module row being selected."""
    if not getattr(user, "is_authenticated", False):
        return Value(int(Level.NONE), output_field=IntegerField())
    memberships = Membership.objects.filter(user=user, infrastructure=infrastructure_ref)
    is_admin = Exists(memberships.filter(role=Membership.Role.ADMINISTRATOR))
    default = Subquery(memberships.values("default_level")[:1], output_field=IntegerField())
    team = Subquery(
        Team.objects.filter(members=user, modules=module_ref)
        .order_by("-level")
        .values("level")[:1],
        output_field=IntegerField(),
    )
    grant = Subquery(
        ModuleUserObjectPermission.objects.filter(user=user, content_object=module_ref)
        .annotate(granted=_grant_level_expression())
        .order_by("-granted")
        .values("granted")[:1],
        output_field=IntegerField(),
    )
    return Case(
        When(is_admin, then=Value(int(Level.PUBLISH))),
        default=Greatest(Coalesce(default, 0), Coalesce(team, 0), Coalesce(grant, 0)),
        output_field=IntegerField(),
    )


def _candidates(user) -> Q:
    """Modules the user could have any level on (narrows the scan before levels are computed)."""
    return (
        Q(infrastructure__in=Membership.objects.filter(user=user).values("infrastructure"))
        | Q(pk__in=ModuleUserObjectPermission.objects.filter(user=user).values("content_object"))
        | Q(pk__in=Team.objects.filter(members=user).values("modules"))
    )


def modules_for_user(user, level: Level = Level.REFERENCE, queryset: QuerySet | None = None) -> QuerySet:
    """Modules on which `user` has at least `level`, annotated with `level`. One query."""
    qs = queryset if queryset is not None else Module.objects.all()
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    return (
        qs.filter(_candidates(user))
        .annotate(level=level_annotation(user))
        .filter(level__gte=max(int(level), int(Level.REFERENCE)))
    )


def effective_level(user, module: Module) -> Level:
    if not getattr(user, "is_authenticated", False):
        return Level.NONE
    row = (
        Module.objects.filter(pk=module.pk)
        .annotate(level=level_annotation(user))
        .values_list("level", flat=True)
        .first()
    )
    return Level(row or 0)


def module_for_user(user, pk, level: Level = Level.REFERENCE, queryset: QuerySet | None = None) -> Module:
    """The module `pk`: 404 when the user has no level on it, 403 when below `level`."""
    qs = queryset if queryset is not None else Module.objects.select_related("infrastructure")
    try:
        module = modules_for_user(user, Level.REFERENCE, qs).get(pk=pk)
    except (Module.DoesNotExist, ValueError, TypeError):
        raise Http404("No such module.") from None
    if module.level < level:
        raise PermissionDenied(
            f"You have {Level(module.level).label} on {module.name}; this needs {Level(level).label}."
        )
    return module


def membership_for(user, infrastructure) -> Membership | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.filter(user=user, infrastructure=infrastructure).first()


def is_infrastructure_admin(user, infrastructure) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return Membership.objects.filter(
        user=user, infrastructure=infrastructure, role=Membership.Role.ADMINISTRATOR
    ).exists()


def is_support(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and (user.is_staff or user.is_superuser))



def infrastructures_for_user(user) -> QuerySet:
    """Support sees every infrastructure; anyone else those they are a member of."""
    if not getattr(user, "is_authenticated", False):
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
