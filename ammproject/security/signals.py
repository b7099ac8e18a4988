"""Signal receivers (connected in SecurityConfig.ready)."""
from __future__ import annotations

from ammproject.security.login_throttle import client_ip, login_failure_record, login_failures_clear
from ammproject.security.operators import operator_group_ensure


def login_failed(sender, credentials, request=None, **kwargs) -> None:
    username = credentials.get("username")
    if request is not None and username:
        login_failure_record(username=username, ip=client_ip(request))


def logged_in(sender, request, user, **kwargs) -> None:
    if request is not None:
        login_failures_clear(username=user.get_username(), ip=client_ip(request))


def operator_group_after_migrate(sender, using="default", **kwargs) -> None:
    operator_group_ensure(using=using)
