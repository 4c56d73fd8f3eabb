"""`Authorization: Token <token>` authentication against hashed tokens."""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from ippsite.tokens import TokenRefused, token_check


class HashedTokenAuthentication(TokenAuthentication):
    """One query per request (token and user together); expiry and revocation enforced."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        try:
            token = token_check(key)
        except TokenRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return token.user, token
