"""manage.py seed_demo: the seeds' story, through the real services, idempotent."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditEntry
from core.levels import Level
from permissions import door
from registry.models import Deployment, Environment, Infrastructure, Module, ModuleVersion

User = get_user_model()


def _run(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_builds_the_story_and_a_second_run_changes_nothing():
    first = _run("--password", "another-demo-pass")
    assert "Demo data loaded" in first
    assert "another-demo-pass" in first

    acme = Infrastructure.objects.get(name="ACME")
    emca = Infrastructure.objects.get(name="EMCA")
    assert acme.ipp_protected and not emca.ipp_protected
    assert acme.platform == emca.platform == "o11"
    assert set(Environment.objects.filter(infrastructure=acme).values_list("name", flat=True)) == {
        "Development",
        "Test",
        "Production",
    }
    assert User.objects.get(username="support").is_staff
    assert User.objects.get(username="acme-dev").check_password("another-demo-pass")

    production = Environment.objects.get(infrastructure=acme, name="Production")
    assert Deployment.objects.filter(environment=production, is_current=True).count() == 3
    # Production is protected: the developer may not ship there; the administrator did.
    assert set(Environment.objects.filter(protected=True).values_list("name", flat=True)) == {
        "Production"
    }
    assert Environment.objects.filter(protected=True).count() == 2
    assert set(
        Deployment.objects.filter(environment=production).values_list(
            "deployed_by__username", flat=True
        )
    ) == {"acme-admin"}
    assert not door.may_deploy(User.objects.get(username="acme-dev"), production)
    billing = Module.objects.get(infrastructure=acme, name="Billing_API")
    assert billing.versions.get().references.count() == 1

    contractor = User.objects.get(username="acme-contractor")
    visible = {m.name: m.level for m in door.modules_for_user(contractor)}
    assert visible == {"CustomerCore_API": Level.REFERENCE}
    developer = User.objects.get(username="acme-dev")
    assert {m.name for m in door.modules_for_user(developer, Level.PUBLISH)} == {
        "CustomerCore_API",
        "Billing_API",
        "CustomerPortal_UI",
    }

    counts = (
        User.objects.count(),
        ModuleVersion.objects.count(),
        Deployment.objects.count(),
        AuditEntry.objects.count(),
    )
    second = _run()
    assert "Demo data already present: nothing changed." in second
    assert (
        User.objects.count(),
        ModuleVersion.objects.count(),
        Deployment.objects.count(),
        AuditEntry.objects.count(),
    ) == counts
    assert User.objects.get(username="acme-dev").check_password("another-demo-pass")
