"""Second factor (SPEC §10): TOTP enrolment, recovery codes, sign-in, tokens, IPP_REQUIRE_2FA."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from ippsite.security import twofactor
from tests import factories
from tests.site.helpers import post_login

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_throttle(settings):
    """django-otp slows retries after a wrong code (1 s, 2 s, ...); tests retry at once."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def _code(device: TOTPDevice, drift: int = 0) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, drift):06d}"


def _enrol(user) -> tuple[TOTPDevice, list[str]]:
    device = twofactor.totp_pending(user)
    codes = twofactor.totp_confirm(user=user, token=_code(device))
    assert codes is not None
    device.refresh_from_db()
    return device, codes


def _token(client, username: str, **extra):
    return client.post(
        TOKEN_URL,
        {"username": username, "password": factories.PASSWORD, **extra},
        content_type="application/json",
    )


def test_enrolment_shows_the_secret_as_text_and_turns_on_with_a_code(world, client):
    client.force_login(world.developer)

    page = client.get("/account/two-factor/").content.decode()

    device = TOTPDevice.objects.get(user=world.developer, confirmed=False)
    assert 'data-testid="totp-secret"' in page
    assert "otpauth://totp/IPP%20Site%3Adeveloper?secret=" in page
    response = client.post("/account/two-factor/", {"code": _code(device)})
    text = response.content.decode()
    assert text.count('data-testid="recovery-code"') == 10
    assert twofactor.is_enrolled(world.developer)
    assert 'data-testid="two-factor-on"' in text


def test_a_wrong_code_does_not_turn_it_on(world, client):
    client.force_login(world.developer)
    client.get("/account/two-factor/")

    response = client.post("/account/two-factor/", {"code": "000000"})

    assert "That code did not work" in response.content.decode()
    assert not twofactor.is_enrolled(world.developer)


def test_page_sign_in_asks_for_the_code_before_anything_else(world):
    device, _codes = _enrol(world.developer)
    client = Client()

    assert post_login(client, "developer").status_code == 302
    dashboard = client.get("/")
    assert dashboard.status_code == 302
    assert dashboard["Location"] == "/login/verify/?next=/"
    api = client.get("/api/v1/modules")
    assert api.status_code == 403
    assert api.json()["error"] == "two_factor_required"

    wrong = client.post("/login/verify/?next=/", {"code": "000000", "next": "/"})
    assert "That code did not work" in wrong.content.decode()
    assert client.get("/").status_code == 302

    # The next step's code: the current one was spent on enrolling (no replays).
    right = client.post("/login/verify/", {"code": _code(device, drift=1), "next": "/"})
    assert right.status_code == 302 and right["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/modules").status_code == 200


def test_a_recovery_code_signs_in_once(world):
    _device, codes = _enrol(world.developer)
    first = Client()
    post_login(first, "developer")
    assert first.post("/login/verify/", {"code": codes[0]}).status_code == 302
    assert first.get("/").status_code == 200

    second = Client()
    post_login(second, "developer")
    again = second.post("/login/verify/", {"code": codes[0]})
    assert "That code did not work" in again.content.decode()
    assert twofactor.recovery_codes_left(world.developer) == 9


def test_every_way_of_signing_in_owes_the_code(world, client):
    """The admin's sign-in or the test client's force_login go through login() too."""
    _enrol(world.developer)
    client.force_login(world.developer)

    assert client.get("/").status_code == 302
    assert client.get("/account/tokens/")["Location"].startswith("/login/verify/")


def test_users_without_a_second_factor_sign_in_as_before(world):
    client = Client()
    post_login(client, "contractor")
    assert client.get("/").status_code == 200


def test_auth_token_needs_the_code_once_enrolled(world, client):
    device, codes = _enrol(world.developer)

    missing = _token(client, "developer")
    assert missing.status_code == 400
    assert missing.json()["error"] == "otp_required"

    wrong = _token(client, "developer", otp="000000")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_otp"

    by_app = _token(client, "developer", otp=_code(device, drift=1))
    assert by_app.status_code == 200 and "token" in by_app.json()
    by_recovery = _token(client, "developer", otp=codes[1])
    assert by_recovery.status_code == 200


def test_wrong_codes_count_towards_the_lockout(world, client):
    _enrol(world.developer)
    for _ in range(10):
        _token(client, "developer", otp="000000")

    response = _token(client, "developer", otp="000000")

    assert response.status_code == 429
    assert response.json()["error"] == "too_many_attempts"


def test_wrong_codes_on_the_page_lock_the_username_too(world):
    _enrol(world.developer)
    client = Client()
    post_login(client, "developer")
    response = None
    for _ in range(10):
        response = client.post("/login/verify/", {"code": "000000"})

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_new_recovery_codes_replace_the_old_ones(world, client):
    device, old = _enrol(world.developer)
    client.force_login(world.developer)
    client.post("/login/verify/", {"code": old[0]})

    response = client.post("/account/two-factor/", {"code": _code(device, drift=1)})

    assert response.content.decode().count('data-testid="recovery-code"') == 10
    assert twofactor.verify(world.developer, old[1]) is None


@pytest.mark.parametrize(
    "policy, persona, must_enrol",
    [
        ("none", "support", False),
        ("staff", "support", True),
        ("staff", "developer", False),
        ("all", "developer", True),
    ],
)
def test_ipp_require_2fa_sends_users_to_enrolment_first(
    world, settings, policy, persona, must_enrol
):
    settings.IPP_REQUIRE_2FA = policy
    client = Client()
    post_login(client, world.personas()[persona].username)

    response = client.get("/")

    if must_enrol:
        assert response.status_code == 302
        assert response["Location"] == "/account/two-factor/?next=/"
        assert (
            'data-testid="enrolment-required"'
            in client.get("/account/two-factor/").content.decode()
        )
        token = _token(Client(), world.personas()[persona].username)
        assert token.status_code == 403
        assert token.json()["error"] == "two_factor_required"
    else:
        assert response.status_code == 200


def test_enrolling_lets_a_required_user_go_on(world, settings):
    settings.IPP_REQUIRE_2FA = "staff"
    client = Client()
    post_login(client, "support")
    client.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=world.support, confirmed=False)

    client.post("/account/two-factor/", {"code": _code(device)})

    assert client.get("/").status_code == 200


def test_a_bad_ipp_require_2fa_fails_loudly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPP_") and k != "DATABASE_URL"}
    env.update(IPP_DATA_DIR=str(tmp_path), IPP_REQUIRE_2FA="sometimes")

    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode != 0
    assert "IPP_REQUIRE_2FA must be none, staff or all" in result.stderr
