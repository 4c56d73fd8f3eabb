"""API: exchange a username and password for a token; create users (support)."""

from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ippsite.api import ApiError
from ippsite.models import ApiToken
from permissions import door
from publishing.services import user_create


class TokenIn(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenOut(serializers.Serializer):
    token = serializers.CharField()


class ObtainToken(APIView):
    """POST {username, password} → {token}."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=TokenIn, responses=TokenOut)
    def post(self, request):
        data = TokenIn(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None or not user.is_active:
            raise ApiError("invalid_credentials", "Wrong username or password.", 400)
        _token, raw = ApiToken.issue(user)
        return Response({"token": raw})


class UserIn(serializers.Serializer):
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

    @extend_schema(request=UserIn, responses={201: UserOut})
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
