"""Shared personas: support, ACME administrator, developer, contractor, EMCA administrator.

ACME is an o11 infrastructure with IPP protected (the seeds' story); EMCA is o11 and
unprotected. Each has Development and Production environments.
"""

from dataclasses import dataclass

import pytest

from core import keys
from core.levels import Level
from publishing.services import module_publish
from registry.models import Membership
from tests import factories


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings, tmp_path):
    """Every test gets its own keys and blobs under a temporary IPP_DATA_DIR.

    Passwords use a fast hasher: the suite creates many users and PBKDF2 costs ~0.5 s each.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.IPP_DATA_DIR = tmp_path / "data"
    settings.IPP_KEYS_DIR = settings.IPP_DATA_DIR / "keys"
    settings.IPP_BLOB_DIR = settings.IPP_DATA_DIR / "blobs"
    settings.IPP_KEYS_DIR.mkdir(parents=True, mode=0o700)
    settings.IPP_BLOB_DIR.mkdir(parents=True)
    keys.reload()  # nothing loaded for an earlier test's keys dir is this test's
    return settings.IPP_DATA_DIR


@dataclass
class World:
    support: object
    acme: object
    acme_dev_env: object
    acme_prod_env: object
    emca: object
    emca_dev_env: object
    emca_prod_env: object
    acme_admin: object
    developer: object
    contractor: object
    emca_admin: object
    outsider: object

    def personas(self) -> dict:
        return {
            "support": self.support,
            "acme_admin": self.acme_admin,
            "developer": self.developer,
            "contractor": self.contractor,
            "emca_admin": self.emca_admin,
            "outsider": self.outsider,
        }


@pytest.fixture
def world(db) -> World:
    support = factories.make_user("support", staff=True)
    acme = factories.make_infrastructure("ACME", protected=True)
    emca = factories.make_infrastructure("EMCA", protected=False)
    acme_admin = factories.make_user("acme_admin")
    developer = factories.make_user("developer")
    contractor = factories.make_user("contractor")
    emca_admin = factories.make_user("emca_admin")
    outsider = factories.make_user("outsider")
    factories.make_member(acme, acme_admin, role=Membership.Role.ADMINISTRATOR)
    factories.make_member(acme, developer, default_level=Level.OPEN, create_modules=True)
    factories.make_member(acme, contractor, default_level=Level.NONE)
    factories.make_member(emca, emca_admin, role=Membership.Role.ADMINISTRATOR)
    return World(
        support=support,
        acme=acme,
        acme_dev_env=factories.make_environment(acme, "Development"),
        acme_prod_env=factories.make_environment(acme, "Production"),
        emca=emca,
        emca_dev_env=factories.make_environment(emca, "Development"),
        emca_prod_env=factories.make_environment(emca, "Production"),
        acme_admin=acme_admin,
        developer=developer,
        contractor=contractor,
        emca_admin=emca_admin,
        outsider=outsider,
    )


@pytest.fixture
def publish(world):
    """Publish a package through the real service: publish(user, env, manifest=..., files=...)."""

    def _publish(user, environment, manifest=None, files=None):
        return module_publish(
            user=user, environment=environment, upload=factories.package_file(manifest, files)
        )

    return _publish
