"""Reads of the IPP portal: which requests a user may see, their roles on one, the widget.

Who sees a request: its requester, the administrators of its source and of its
destination, and support. Everyone else gets 404 for it (its existence is not disclosed).
"""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from core.levels import Level
from permissions import door
from portal.models import TransferEvent, TransferItem, TransferRequest
from registry.models import Membership


def _admin_infrastructures(user):
    return Membership.objects.filter(user=user, role=Membership.Role.ADMINISTRATOR).values(
        "infrastructure"
    )


def transfers_for_user(user) -> QuerySet:
    """The requests `user` may see, newest first (filtered in SQL)."""
    qs = TransferRequest.objects.select_related("source", "destination", "requester", "decided_by")
    if not getattr(user, "is_authenticated", False):
        return qs.none()
    if door.is_support(user):
        return qs
    admin_of = _admin_infrastructures(user)
    return qs.filter(Q(requester=user) | Q(source__in=admin_of) | Q(destination__in=admin_of))


def transfer_for_user(user, pk, *, detail: bool = False) -> TransferRequest:
    """One request `user` may see, else Http404. `detail` prefetches items and events."""
    qs = transfers_for_user(user)
    if detail:
        qs = qs.prefetch_related(
            Prefetch(
                "items",
                queryset=TransferItem.objects.select_related("module", "version").order_by("id"),
            ),
            Prefetch("events", queryset=TransferEvent.objects.select_related("actor")),
        )
    try:
        return qs.get(pk=pk)
    except (TransferRequest.DoesNotExist, ValueError, TypeError):
        raise Http404("No such transfer request.") from None


@dataclass(frozen=True)
class TransferRoles:
    """What `user` is to one request; decides which actions the pages and API offer."""

    is_requester: bool
    is_source_admin: bool
    is_destination_admin: bool
    is_support: bool

    @property
    def can_see(self) -> bool:
        return (
            self.is_requester
            or self.is_source_admin
            or self.is_destination_admin
            or self.is_support
        )

    @property
    def can_decide(self) -> bool:
        return self.is_source_admin

    @property
    def can_cancel(self) -> bool:
        return self.is_requester

    @property
    def can_download(self) -> bool:
        return self.is_requester or self.is_destination_admin


def transfer_roles(user, transfer: TransferRequest) -> TransferRoles:
    """The user's roles on `transfer` (one query for both administrations)."""
    if not getattr(user, "is_authenticated", False):
        return TransferRoles(False, False, False, False)
    admin_of = set(
        Membership.objects.filter(
            user=user,
            role=Membership.Role.ADMINISTRATOR,
            infrastructure__in=[transfer.source_id, transfer.destination_id],
        ).values_list("infrastructure_id", flat=True)
    )
    return TransferRoles(
        is_requester=transfer.requester_id == user.pk,
        is_source_admin=transfer.source_id in admin_of,
        is_destination_admin=transfer.destination_id in admin_of,
        is_support=door.is_support(user),
    )


def publish_destinations(user, transfer: TransferRequest) -> list:
    """The destination's environments where `user` could publish this approved request's
    modules in one step (what the transfer page offers; the publish decides for real).

    Empty unless the request is approved and the user is a member of the destination who
    administers it, may create modules, or has publish on one of the request's modules
    there; then the environments whose protection lets them in (door, one query).
    """
    if transfer.status != TransferRequest.Status.APPROVED:
        return []
    membership = door.membership_for(user, transfer.destination_id)
    if membership is None:
        return []
    if not (membership.is_admin or membership.create_modules):
        keys = TransferItem.objects.filter(request=transfer).values("module__key")
        has_publish = (
            door.modules_for_user(user, Level.PUBLISH)
            .filter(infrastructure_id=transfer.destination_id, key__in=keys)
            .exists()
        )
        if not has_publish:
            return []
    return list(
        door.deployable_environments(user)
        .filter(infrastructure_id=transfer.destination_id)
        .order_by("id")
    )


def approvals_for_user(user) -> QuerySet:
    """Pending requests out of infrastructures `user` administers (the approvals inbox)."""
    if not getattr(user, "is_authenticated", False):
        return TransferRequest.objects.none()
    return (
        TransferRequest.objects.filter(
            status=TransferRequest.Status.PENDING, source__in=_admin_infrastructures(user)
        )
        .select_related("source", "destination", "requester")
        .annotate(item_count=Count("items"))
        .order_by("created_at", "id")
    )


def requests_of_user(user) -> QuerySet:
    """The requests `user` made, newest first."""
    return (
        TransferRequest.objects.filter(requester=user)
        .select_related("source", "destination", "decided_by")
        .annotate(item_count=Count("items"))
        .order_by("-created_at", "-id")
    )


def others_for_user(user) -> QuerySet:
    """Requests `user` may see but did not make: in and out of infrastructures they
    administer (all of them for support), newest first."""
    return (
        transfers_for_user(user)
        .exclude(requester=user)
        .annotate(item_count=Count("items"))
        .order_by("-created_at", "-id")
    )


def dashboard_widget(user) -> dict | None:
    """The dashboard card: approvals waiting for me (and how many of them a blocked portal
    holds), approved transfers into infrastructures
    I administer that nobody has published there yet and I have not downloaded, and my
    requests' latest outcomes.

    Two queries; None when there is nothing to show.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    admin_of = _admin_infrastructures(user)
    downloaded_by_me = Exists(
        TransferEvent.objects.filter(
            request=OuterRef("pk"), kind=TransferEvent.Kind.DOWNLOADED, actor=user
        )
    )
    published = Exists(
        TransferEvent.objects.filter(request=OuterRef("pk"), kind=TransferEvent.Kind.PUBLISHED)
    )
    counts = TransferRequest.objects.filter(
        Q(source__in=admin_of) | Q(destination__in=admin_of)
    ).aggregate(
        pending=Count("pk", filter=Q(status=TransferRequest.Status.PENDING, source__in=admin_of)),
        blocked=Count(
            "pk",
            filter=Q(
                status=TransferRequest.Status.PENDING,
                source__in=admin_of,
                source__portal_blocked=True,
            ),
        ),
        incoming=Count(
            "pk",
            filter=Q(status=TransferRequest.Status.APPROVED, destination__in=admin_of)
            & ~Q(downloaded_by_me)
            & ~Q(published),
        ),
    )
    latest = list(
        TransferRequest.objects.filter(requester=user)
        .select_related("source", "destination")
        .order_by("-created_at", "-id")[:5]
    )
    if not counts["pending"] and not counts["incoming"] and not latest:
        return None
    return {
        "template": "portal/_dashboard_widget.html",
        "pending": counts["pending"],
        "blocked": counts["blocked"],  # of the pending: their source's portal is blocked
        "incoming": counts["incoming"],
        "latest": latest,
    }
