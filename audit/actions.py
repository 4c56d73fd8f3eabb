"""The audit actions the site records, with the labels and badge colours pages show.

Add a new action here (and to audit/README.md) before a service records it; unknown
actions are still stored and listed, they just show their raw name.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    code: str
    label: str
    badge: str  # Bootstrap text-bg-* colour


_ACTIONS = [
    Action("user.created", "User created", "secondary"),
    Action("user.signin_unlocked", "Sign-in lock lifted", "warning"),
    Action("infrastructure.created", "Infrastructure created", "primary"),
    Action("environment.created", "Environment created", "primary"),
    Action("environment.changed", "Environment changed", "info"),
    Action("membership.changed", "Membership changed", "info"),
    Action("permission.changed", "Permission changed", "info"),
    Action("team.created", "Team created", "primary"),
    Action("team.changed", "Team changed", "info"),
    Action("team.deleted", "Team deleted", "warning"),
    Action("user.deactivated", "User deactivated", "danger"),
    Action("user.reactivated", "User reactivated", "success"),
    Action("ipp.protection_changed", "IPP protection changed", "warning"),
    Action("ipp.portal_blocked", "IPP portal blocked", "danger"),
    Action("ipp.portal_unblocked", "IPP portal unblocked", "success"),
    Action("module.published", "Module published", "success"),
    Action("module.deployed", "Module deployed", "success"),
    Action("module.publish_refused", "Publish refused", "danger"),
    Action("module.exported", "Module exported", "secondary"),
    Action("module.source_viewed", "Source viewed", "secondary"),
    Action("module.copied", "Elements copied", "success"),
    Action("module.copy_refused", "Copy refused", "danger"),
    Action("transfer.requested", "Transfer requested", "primary"),
    Action("transfer.approved", "Transfer approved", "success"),
    Action("transfer.rejected", "Transfer rejected", "danger"),
    Action("transfer.cancelled", "Transfer cancelled", "secondary"),
    Action("transfer.refused", "Transfer refused", "danger"),
    Action("transfer.package_downloaded", "Transferred package downloaded", "secondary"),
    Action("transfer.published", "Transferred module published", "success"),
    Action("membership.removed", "Member removed", "warning"),
    Action("environment.changed", "Environment changed", "info"),
    Action("invitation.created", "Invitation sent", "info"),
    Action("invitation.accepted", "Invitation accepted", "success"),
    Action("invitation.revoked", "Invitation revoked", "secondary"),
    Action("witness.registered", "Witness registered", "primary"),
]

ACTIONS: dict[str, Action] = {action.code: action for action in _ACTIONS}

USER_CREATED = "user.created"
INFRASTRUCTURE_CREATED = "infrastructure.created"
ENVIRONMENT_CREATED = "environment.created"
ENVIRONMENT_CHANGED = "environment.changed"
MEMBERSHIP_CHANGED = "membership.changed"
PERMISSION_CHANGED = "permission.changed"
TEAM_CREATED = "team.created"
TEAM_CHANGED = "team.changed"
IPP_PROTECTION_CHANGED = "ipp.protection_changed"
IPP_PORTAL_BLOCKED = "ipp.portal_blocked"
IPP_PORTAL_UNBLOCKED = "ipp.portal_unblocked"
MODULE_PUBLISHED = "module.published"
MODULE_DEPLOYED = "module.deployed"
MODULE_PUBLISH_REFUSED = "module.publish_refused"
MODULE_EXPORTED = "module.exported"
MODULE_SOURCE_VIEWED = "module.source_viewed"
MODULE_COPIED = "module.copied"
MODULE_COPY_REFUSED = "module.copy_refused"
TRANSFER_REQUESTED = "transfer.requested"
TRANSFER_APPROVED = "transfer.approved"
TRANSFER_REJECTED = "transfer.rejected"
TRANSFER_CANCELLED = "transfer.cancelled"
TRANSFER_REFUSED = "transfer.refused"
TRANSFER_PACKAGE_DOWNLOADED = "transfer.package_downloaded"
TRANSFER_PUBLISHED = "transfer.published"
WITNESS_REGISTERED = "witness.registered"

# Events about a source and a destination: recorded in both logs (audit_record(also=...)).
TWO_SIDED = frozenset(
    {
        TRANSFER_REQUESTED,
        TRANSFER_APPROVED,
        TRANSFER_REJECTED,
        TRANSFER_CANCELLED,
        TRANSFER_REFUSED,
        TRANSFER_PUBLISHED,
        TRANSFER_PACKAGE_DOWNLOADED,
    }
)


def action_choices() -> list[tuple[str, str]]:
    """(code, label) pairs for filter forms, sorted by label."""
    return sorted(((a.code, a.label) for a in _ACTIONS), key=lambda pair: pair[1])


def label_for(code: str) -> str:
    action = ACTIONS.get(code)
    return action.label if action else code


def badge_for(code: str) -> str:
    action = ACTIONS.get(code)
    return action.badge if action else "light"
