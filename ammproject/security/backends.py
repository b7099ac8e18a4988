"""The authentication backend that enforces the login lockout (ammproject.security.login_throttle)."""
from __future__ import annotations

from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import PermissionDenied

from ammproject.security.login_throttle import client_ip, login_lock_remaining


class LoginThrottleBackend(BaseBackend):
    """Authenticates no one. Listed first in AUTHENTICATION_BACKENDS, it refuses a username
    locked out from the caller's address before any password is checked: PermissionDenied
    ends Django's authenticate() for every login form, the admin's or any other."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not username:
            return None  # not a web login (a shell, a command): nothing to throttle
        if login_lock_remaining(username=username, ip=client_ip(request)):
            raise PermissionDenied("too many failed logins")
        return None

    def get_user(self, user_id):
        """A session whose backend is this one (Django's `login()`/`force_login()` name the
        first backend) is the user ModelBackend would give."""
        return ModelBackend().get_user(user_id)
