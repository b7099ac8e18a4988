"""Fixtures of the monitoring API tests: Django auth users holding chosen permissions, DRF's
APIClient authenticated with their DRF token, AMM instances made through the services. Tests
that need the platform (reports, kill switch cancels, health's platform check) use the live
platform of tests/amm/live (pytest-django's live_server, real HTTP)."""
from __future__ import annotations

import itertools
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from amm.services.api_tokens import api_token_issue
from tests.amm.live.conftest import _stop_deadman_sweeper, platform  # noqa: F401 - fixtures

BASE = "/api/amm/v1"
VIEW = "amm.view_amminstance"
_names = itertools.count()


def make_user(*perms: str, staff: bool = False, superuser: bool = False, username: str | None = None):
    """A Django user holding `perms` ("app_label.codename")."""
    username = username or f"op{next(_names)}_{uuid.uuid4().hex[:6]}"
    user = get_user_model().objects.create_user(username=username, password=None, is_staff=staff,
                                                is_superuser=superuser)  # no password: no slow hashing
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


def client_for(user=None) -> APIClient:
    """An APIClient sending the user's DRF token (None: anonymous)."""
    client = APIClient()
    if user is not None:
        key, _ = api_token_issue(username=user.get_username())
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture(autouse=True)
def _runtime_context_per_test(settings):
    """Operator actions and the feed use this thread's RuntimeContext (a connector): one per
    test, without keep-alive, so no live-server thread is left holding a database connection
    (the test server's keep-alive also stalls ~40 ms a request)."""
    from amm.runtime.context import context_reset

    settings.AMM_PLATFORM_KEEPALIVE = False
    context_reset()
    yield
    context_reset()


@pytest.fixture
def api():
    """api(*perms) -> an APIClient for a new user holding those permissions; api(None) -> anonymous."""

    def make(*perms: str | None, **kwargs) -> APIClient:
        if perms == (None,):
            return client_for(None)
        client = client_for(make_user(*perms, **kwargs))
        return client

    return make


@pytest.fixture
def viewer(api) -> APIClient:
    return api(VIEW)


def enable(market_id: str | None = None, **kwargs) -> str:
    from amm.services import instance_enable

    market_id = market_id or f"MKT-{uuid.uuid4().hex[:8]}"
    instance_enable(market_id=market_id, actor="test", **kwargs)
    return market_id


def run(market_id: str) -> None:
    """STOPPED -> STARTING -> RUNNING through the services (what run_amm's startup does)."""
    from amm.services import instance_running, instance_start

    instance_start(market_id=market_id, actor="test", reason="test start")
    instance_running(market_id=market_id)
