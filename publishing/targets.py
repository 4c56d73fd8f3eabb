"""Which module a publish goes into, and whether the publisher may publish or create it.

Shared by publishing, cross-infrastructure deploys, preflight and the transfer portal.
"""

from core.errors import NotAllowed
from core.levels import Level
from permissions import door
from registry.models import Infrastructure, Module
from registry.packages import Manifest

UNREAD = object()


def target_module(
    *,
    user,
    manifest: Manifest,
    infrastructure: Infrastructure,
    for_update: bool,
    membership=UNREAD,
):
    """The module the key names in `infrastructure`, checking publish / create_modules.

    A module the user cannot see is answered like a key new to them (the create_modules
    refusal, or a refusal that names no module), so publishing discloses no existence.
    `membership`: the user's membership there when the caller has read it already.
    """
    return find_target(
        user=user,
        manifest=manifest,
        infrastructure=infrastructure,
        for_update=for_update,
        membership=membership,
    )[0]


def require_may_create(membership, infrastructure: Infrastructure) -> None:
    if membership is None or not (membership.is_admin or membership.create_modules):
        raise NotAllowed(
            f"You may not create modules in {infrastructure.name}: "
            "ask an administrator to allow you to create modules."
        )


def find_target(
    *, user, manifest: Manifest, infrastructure: Infrastructure, for_update, membership
):
    """(module or None, the membership read for a new module's create_modules check).

    With `for_update` the module's row is locked, and for a new key the user's membership
    row too: the creator's grant that follows is a grant write (permissions.services).
    """
    qs = Module.objects.filter(infrastructure=infrastructure, key=manifest.key)
    if for_update:
        qs = qs.select_for_update()
    module = qs.first()
    level = Level.NONE if module is None else door.effective_level(user, module)
    if level == Level.NONE:
        if membership is UNREAD:
            membership = door.membership_for(
                user, infrastructure, for_update=for_update and module is None
            )
        require_may_create(membership, infrastructure)
        if module is None:
            return None, membership
        raise NotAllowed(
            f"You may not publish a module with key {manifest.key} in {infrastructure.name}: "
            "ask an administrator of it."
        )
    if level < Level.PUBLISH:
        raise NotAllowed(
            f"You may not publish module {manifest.name} ({manifest.key}) in {infrastructure.name}: "
            "ask an administrator for publish on it."
        )
    return module, None


def publish_precheck(*, user, manifest: Manifest, infrastructure: Infrastructure):
    """Membership and publish/create_modules for `manifest`'s key; the module or None if new.

    Writes nothing; shared by publishing, cross-infrastructure deploys and preflight.
    """
    membership = door.membership_for(user, infrastructure, module_key=manifest.key)
    if membership is None:
        raise NotAllowed(f"You are not a member of {infrastructure.name}.")
    if membership.module_pk is None:
        # A key new to the infrastructure (one query told both): create_modules decides.
        require_may_create(membership, infrastructure)
        return None
    return target_module(
        user=user,
        manifest=manifest,
        infrastructure=infrastructure,
        for_update=False,
        membership=membership,
    )
