"""`Authorization: Token <api key>` -> a platform user (exchange.models.User, SPEC §3.6).

Platform users are not Django users: the key maps to `exchange.models.User`, and the two
permissions below are the only gates (any platform user; platform staff)."""
from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from exchange.models import User
from exchange.services import user_for_api_key

KEYWORD = "Token"


class PlatformTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None  # no credentials: the permission answers 401
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization must be 'Token <api key>'", code="INVALID_API_KEY")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("API key is not valid text", code="INVALID_API_KEY") from None
        user = user_for_api_key(key)
        if user is None:
            raise exceptions.AuthenticationFailed("unknown or revoked API key", code="INVALID_API_KEY")
        return user, key

    def authenticate_header(self, request) -> str:
        return KEYWORD  # makes DRF answer 401 (not 403) without valid credentials


class IsPlatformUser(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, User):
            raise exceptions.NotAuthenticated("send 'Authorization: Token <api key>'", code="NOT_AUTHENTICATED")
        return True


class IsPlatformStaff(IsPlatformUser):
    message = "this operation is reserved to platform staff"
    code = "STAFF_ONLY"

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.user.is_staff


class PlatformTokenScheme(OpenApiAuthenticationExtension):
    target_class = PlatformTokenAuthentication
    name = "PlatformToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'A platform API key with the prefix "Token", e.g. `Token abc123`.',
        }
