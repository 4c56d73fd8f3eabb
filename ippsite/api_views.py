"""API: exchange a username and password for a token; create users (support)."""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ippsite.api import ApiError, StrictInput, errors
from ippsite.authentication import HashedTokenAuthentication
from ippsite.models import ApiToken
from ippsite.security import lockout, twofactor
from ippsite.tokens import token_revoke
from permissions import door
from publishing.services import user_create


class TokenIn(StrictInput):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Code from the user's authenticator app, or a recovery code: needed once "
        "the user has turned on two-factor sign-in.",
    )


class TokenOut(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once: only its digest is stored.")
    expires_at = serializers.DateTimeField()


class ObtainToken(APIView):
    """POST {username, password} → {token, expires_at}; DELETE revokes the calling token.

    POST is anonymous by nature; DELETE must be made with the token it revokes, so only
    DELETE authenticates (Token only: a session has no token to revoke).
    """

    def _revoking(self) -> bool:
        # self.request is the Django request here (set by View.setup before dispatch);
        # the schema generator may ask with no request at all.
        return getattr(getattr(self, "request", None), "method", None) == "DELETE"

    def get_authenticators(self):
        return [HashedTokenAuthentication()] if self._revoking() else []

    def get_permissions(self):
        return [IsAuthenticated()] if self._revoking() else [AllowAny()]

    @extend_schema(
        request=TokenIn,
        responses={
            200: TokenOut,
            **errors(
                {
                    400: "invalid_credentials, invalid_request or otp_required",
                    401: "invalid_otp: the second factor is wrong",
                    403: "two_factor_required: IPP_REQUIRE_2FA, not enrolled yet",
                    429: "too_many_attempts: this username is locked for a while",
                }
            ),
        },
    )
    def post(self, request):
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if getattr(request, "axes_locked_out", False):
            error = ApiError(lockout.TOO_MANY_ATTEMPTS, lockout.lockout_message(), 429)
            error.wait = lockout.seconds_left(data.validated_data["username"])  # Retry-After
            raise error
        if user is None or not user.is_active:
            raise ApiError("invalid_credentials", "Wrong username or password.", 400)
        self._second_factor(request, user, data.validated_data.get("otp", ""))
        token, raw = ApiToken.issue(user)
        return Response(TokenOut({"token": raw, "expires_at": token.expires_at}).data)

    @staticmethod
    def _second_factor(request, user, otp: str) -> None:
        if not twofactor.is_enrolled(user):
            if twofactor.enrolment_required(user):
                raise ApiError(
                    "two_factor_required",
                    "This account must turn on two-factor sign-in on the site first.",
                    403,
                )
            return
        if not otp.strip():
            raise ApiError("otp_required", "Two-factor sign-in is on: send the code as `otp`.", 400)
        if twofactor.verify(user, otp) is None:
            # A wrong code is a failed sign-in: it counts towards the username's lockout.
            user_login_failed.send(
                sender=__name__, credentials={"username": user.get_username()}, request=request
            )
            raise ApiError("invalid_otp", "That code did not work.", 401)

    @extend_schema(
        request=None,
        responses={
            204: None,
            **errors({401: "not_authenticated: no token, or not a live one"}),
        },
    )
    def delete(self, request):
        token_revoke(token=request.auth)
        return Response(status=204)


class UserIn(StrictInput):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(style={"input_type": "password"}, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    def validate_username(self, value: str) -> str:
        User = get_user_model()
        try:
            User.username_validator(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        if User.objects.filter(username=value).exists():
            raise serializers.ValidationError(f"'{value}' is taken.")
        return value

    def validate(self, attrs):
        candidate = get_user_model()(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": exc.messages}) from None
        return attrs


class UserOut(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class UserCreate(APIView):
    """POST {username, password, email} → 201 {id, username}. Support only."""

    @extend_schema(
        request=UserIn,
        responses={
            201: UserOut,
            **errors(
                {
                    400: "invalid_request: a bad or taken username, a weak password, a bad email",
                    403: "permission_denied: support only",
                }
            ),
        },
    )
    def post(self, request):

        if not door.is_support(request.user):
            raise ApiError("permission_denied", "Only support may create users.", 403)
        data = UserIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(actor=request.user, **data.validated_data)
        return Response(UserOut(user).data, status=201)


def drop_slash_aliases(endpoints):
    """drf-spectacular preprocessing hook: leave `path/` aliases of `path` out of the schema.

    Every path is also served with a trailing slash (SPEC §7); documenting both would
    duplicate each operation and collide their operation ids.
    """
    paths = {path for path, *_rest in endpoints}
    return [
        endpoint
        for endpoint in endpoints
        if not (endpoint[0].endswith("/") and endpoint[0].rstrip("/") in paths)
    ]
