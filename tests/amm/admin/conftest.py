"""Fixtures of the console tests: staff users with chosen permissions (Django's test client,
logged in), AMM instances through the services, and a market's Redis working state as a
sync and a quote cycle would leave it (real PostgreSQL and Redis)."""
from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission, User
from django.test import TestCase

from amm import state
from amm.models import AMMInstance, DefenseLevelChange, KillSwitchChange, LifecycleChange
from amm.services import instance_enable
from tests.amm.conftest import seed_market

_seq = itertools.count()

VIEW = "amm.view_amminstance"
OPERATOR_PERMS = ("amm.operate_instance", "amm.engage_killswitch", "amm.reset_killswitch")


def staff_user(*perms: str, name: str | None = None) -> User:
    """A staff user (not a superuser) holding exactly `perms` ("app_label.codename")."""
    user = User.objects.create_user(username=name or f"staff{next(_seq)}", is_staff=True)  # no password: force_login
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return User.objects.get(pk=user.pk)  # fresh: no permission cache


@pytest.fixture
def login(client):
    """login(*perms) -> (client, user): the test client logged in as a staff user with `perms`."""

    def _login(*perms: str, name: str | None = None):
        user = staff_user(*perms, name=name)
        client.force_login(user)
        return client, user

    return _login


def enable(market_id: str, *, budget_cents: int = 200_000) -> AMMInstance:
    """amm_enable's instance and config, `amm:config` written as on its commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        instance, _ = instance_enable(market_id=market_id, budget_cents=budget_cents, actor="test")
    return AMMInstance.objects.get(pk=instance.pk)


def seed_live(market_id: str, *, yes: int = 0, no: int = 0, cash: int = 100_000, orders=(), **fields) -> None:
    """The market's Redis working state: inventory and live orders as a sync leaves them, and
    the figures a quote cycle writes into amm:state (fair price, skew, PnL today, ...)."""
    seed_market(market_id, cash=cash, yes=yes, no=no, orders=orders)
    if fields:
        state.state_update(market_id, **fields)


def order(order_id: str, *, side: str, direction: str, price: int, qty: int, remaining: int | None = None):
    """One amm:orders entry; book type as the platform files it (SPEC §3.2)."""
    book = {("YES", "BUY"): "NATIVE_BUY", ("YES", "SELL"): "NATIVE_SELL", ("NO", "SELL"): "SYNTHETIC_BUY",
            ("NO", "BUY"): "SYNTHETIC_SELL"}[(side, direction)]
    return state.OrderEntry(order_id=order_id, side=side, direction=direction, price=price, qty=qty,
                            remaining=qty if remaining is None else remaining, book_type=book, created_ms=1)


def snapshot(market_id: str) -> tuple:
    """Everything an operator action may change: the row, the histories, the mirrored state."""
    row = AMMInstance.objects.values().get(market_id=market_id)
    row.pop("updated_at")
    history = tuple(model.objects.filter(market_id=market_id).count()
                    for model in (LifecycleChange, KillSwitchChange, DefenseLevelChange))
    return row, history, state.state_get(market_id)
