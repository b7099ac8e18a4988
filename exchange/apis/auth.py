"""`Authorization: Token <api key>` -> a platform user (exchange.models.User, SPEC §3.6).

Platform users are not Django users: the key maps to `exchange.models.User`, and the two
permissions below are the only gates (any platform user; platform staff)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import SAFE_METHODS, BasePermission

from exchange.models import User
from exchange.services import user_for_api_key
from exchange.services.deadman import deadman_user_for_api_key

KEYWORD = "Token"


@dataclass(frozen=True)
class KeyAuth:
    """`request.auth` of a platform user: the key, and for a write whether the caller's dead
    man's switch was past its deadline at `checked_at` (asked in the key's own statement, so
    that `PlatformApi` fires it before serving the write without another query)."""

    key: str
    checked_at: dt.datetime | None = None  # None: not asked (a read)
    switch_expired: bool = False


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
        if request.method in SAFE_METHODS:
            user, auth = user_for_api_key(key), KeyAuth(key)
        else:
            now = timezone.now()
            user, expired = deadman_user_for_api_key(key, now=now)
            auth = KeyAuth(key, checked_at=now, switch_expired=expired)
        if user is None:
            raise exceptions.AuthenticationFailed("unknown or revoked API key", code="INVALID_API_KEY")
        return user, auth

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
