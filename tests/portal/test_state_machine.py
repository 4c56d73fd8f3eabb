"""Any sequence of decisions by any personas follows one model of the state machine."""

import pytest
from django.http import Http404
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import Conflict, NotAllowed
from portal.models import TransferEvent, TransferRequest
from portal.services import transfer_approve, transfer_cancel, transfer_reject, transfer_request

ACTIONS = {"approve": transfer_approve, "reject": transfer_reject, "cancel": transfer_cancel}
OUTCOME = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}
PERSONAS = ["support", "acme_admin", "developer", "contractor", "emca_admin", "outsider"]


def expected(persona: str, action: str, status: str):
    """What the model says: 404 unseen, 403 not entitled, 409 decided, else the new status."""
    if persona in ("contractor", "outsider"):
        return Http404
    entitled = persona == ("developer" if action == "cancel" else "acme_admin")
    if not entitled:
        return NotAllowed
    if status != "pending":
        return Conflict
    return OUTCOME[action]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(PERSONAS), st.sampled_from(sorted(ACTIONS))),
        min_size=1,
        max_size=6,
    )
)
def test_decisions_follow_the_model_whoever_tries_them_in_any_order(world, customer_core, steps):
    transfer = transfer_request(
        user=world.developer,
        modules=[customer_core.module_id],
        target_activation_code=world.emca.activation_code,
    )
    personas = world.personas()
    status = "pending"
    for persona, action in steps:
        want = expected(persona, action, status)
        if isinstance(want, str):
            assert ACTIONS[action](user=personas[persona], transfer=transfer.pk).status == want
            status = want
        else:
            with pytest.raises(want):
                ACTIONS[action](user=personas[persona], transfer=transfer.pk)
        assert TransferRequest.objects.get(pk=transfer.pk).status == status
    decisions = TransferEvent.objects.filter(
        request=transfer, kind__in=["approved", "rejected", "cancelled"]
    )
    assert decisions.count() == (0 if status == "pending" else 1)
    marked = transfer.items.filter(new_mark__isnull=False).exists()
    assert marked == (status == "approved")
