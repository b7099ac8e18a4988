"""The admin's login form, saying when a login is refused for too many failures."""
from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from ammproject.security.login_throttle import client_ip, login_lock_remaining


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed logins for this username from your address: try again in %(seconds)s s.",
    }

    def get_invalid_login_error(self):
        username = self.cleaned_data.get("username")
        seconds = login_lock_remaining(username=username, ip=client_ip(self.request)) \
            if username and self.request is not None else 0
        if seconds:
            return ValidationError(self.error_messages["throttled"], code="throttled", params={"seconds": seconds})
        return super().get_invalid_login_error()
