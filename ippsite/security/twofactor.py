"""Second factor (SPEC §10): TOTP with recovery codes, on django-otp's devices.

Every sign-in that creates a session goes through `login()`, so one receiver of
`user_logged_in` marks the session: "verify" when the user has a second factor (the
session may do nothing but enter its code until it does), "enrol" when IPP_REQUIRE_2FA
says this user must have one and they have none. `TwoFactorMiddleware` holds such a
session to that one page. The admin's sign-in and the test client's are covered alike.
"""

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

SESSION_KEY = "ipp_2fa"
VERIFY = "verify"
ENROL = "enrol"
RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


def is_enrolled(user) -> bool:
    return user_has_device(user, confirmed=True)


def enrolment_required(user) -> bool:
    """IPP_REQUIRE_2FA: none, staff (support and superusers) or all."""
    policy = settings.IPP_REQUIRE_2FA
    if policy == "all":
        return True
    return policy == "staff" and (user.is_staff or user.is_superuser)


def mark_session(request, user) -> None:
    """user_logged_in receiver: what this fresh session must do before anything else."""
    if is_enrolled(user):
        request.session[SESSION_KEY] = VERIFY
    elif enrolment_required(user):
        request.session[SESSION_KEY] = ENROL
    else:
        request.session.pop(SESSION_KEY, None)


def session_cleared(request) -> None:
    request.session.pop(SESSION_KEY, None)


def verify(user, token: str):
    """The confirmed device (authenticator or a recovery code) accepting `token`, or None.

    Recovery codes work once (django-otp deletes a used one); devices throttle repeated
    failures themselves.
    """
    token = "".join(token.split())
    if not token:
        return None
    with transaction.atomic():
        for device in devices_for_user(user, confirmed=True, for_verify=True):
            if device.verify_token(token):
                return device
    return None


def totp_pending(user) -> TOTPDevice:
    """The user's unconfirmed authenticator device, made on first call (its secret is kept
    until confirmed, so reloading the enrolment page shows the same one)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def totp_confirm(*, user, token: str) -> list[str] | None:
    """Confirm the pending authenticator with a code from it → fresh recovery codes.

    None when the code does not match. Confirming replaces any earlier authenticator.
    """
    with transaction.atomic():
        device = totp_pending(user)
        if not device.verify_token("".join(token.split())):
            return None
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return recovery_codes_issue(user=user)


def recovery_codes_issue(*, user) -> list[str]:
    """A new set of single-use recovery codes; the previous set stops working."""
    with transaction.atomic():
        device, _created = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
