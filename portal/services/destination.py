"""Publishing an approved transfer straight into an environment of its destination.

The one step that replaces download-and-upload: the item's version is sealed under its
new mark on the site (as the download builds it) and published through
publishing.services.module_publish, so the destination's rules all apply: membership and
publish (or create_modules) there, the environment's protection, IPP and references.
The timeline's `published` event and the `transfer.published` audit entry are written in
the publish's own transaction, so they exist exactly when the version does.
"""

from audit.services import audit_record
from core.errors import ValidationFailed
from permissions import door
from portal.models import TransferEvent, TransferItem, TransferRequest
from portal.services.packages import (
    approved_item,
    sealed_package_file,
    stored_package,
    visible_transfer,
)
from portal.services.records import record_event
from publishing.protection import require_may_deploy
from publishing.services import PublishResult, module_publish, publish_precheck
from registry.models import Environment
from registry.selectors import version_manifest


def _destination_environment(*, user, transfer: TransferRequest, environment) -> Environment:
    """An environment of the destination the user can see: 404 invisible, 400 elsewhere."""
    pk = environment.pk if isinstance(environment, Environment) else environment
    environment = door.environment_for_user(user, pk)
    if environment.infrastructure_id != transfer.destination_id:
        raise ValidationFailed(
            f"{environment} is not an environment of {transfer.destination.name}: transfer "
            f"#{transfer.pk} publishes only there."
        )
    return environment


def _recorder(*, user, transfer: TransferRequest, item: TransferItem, environment: Environment):
    """What the publish also writes, inside its transaction: the event and the entry."""

    def record(result: PublishResult) -> None:
        version = result.version
        record_event(
            transfer,
            actor=user,
            kind=TransferEvent.Kind.PUBLISHED,
            message=f"{user.username} published {item.module.name} in "
            f"{transfer.destination.name} / {environment.name} as v{version.number} "
            f"(marked for {transfer.destination.name}, epoch {item.epoch}).",
        )
        audit_record(
            actor=user,
            action="transfer.published",
            infrastructure=transfer.destination,
            subject=transfer,
            details={
                "transfer": transfer.pk,
                "source": transfer.source.name,
                "destination": transfer.destination.name,
                "environment": environment.name,
                "module": item.module.name,
                "key": str(item.module.key),
                "from_version": item.version.number,
                "version": version.number,
                "digest": version.digest,
                "epoch": item.epoch,
            },
        )

    return record


def transfer_publish(*, user, transfer, module, environment) -> PublishResult:
    """Publish `module`'s re-marked version of the approved `transfer` into `environment`.

    404 when the request, its item or the environment is not visible; 409 until the
    request is approved; 400 for an environment outside the destination; then whatever
    a publish there answers (403 not a member / no publish / `environment_protected`).
    """
    transfer = visible_transfer(user, transfer)
    item = approved_item(transfer=transfer, module=module)
    environment = _destination_environment(user=user, transfer=transfer, environment=environment)
    # Refuse before sealing anything: the publish checks the same again on the package.
    manifest = version_manifest(item.version)
    publish_precheck(user=user, manifest=manifest, infrastructure=transfer.destination)
    require_may_deploy(user=user, environment=environment, key=manifest.key, name=manifest.name)
    # The package stored at approval when it is there; sealed here when it is not yet.
    package, size = stored_package(item) if item.package_size else sealed_package_file(item)
    with package:
        return module_publish(
            user=user,
            environment=environment,
            upload=package,
            size=size,
            extra_details={"transfer": transfer.pk},
            then=_recorder(user=user, transfer=transfer, item=item, environment=environment),
        )
