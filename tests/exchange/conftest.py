"""Factories for platform tests: real users, accounts, markets through the services."""
from __future__ import annotations

import itertools
import uuid

import pytest

from exchange.enums import AMM_USER_ID, FEE_USER_ID
from exchange.models import Account, LedgerEntry, Market, Order, Position, Trade
from exchange.services import NewOrder, account_deposit, market_create, order_place, user_get_or_create

_seq = itertools.count()


def new_user(deposit: int = 1_000_000, name: str | None = None) -> str:
    user, _ = user_get_or_create(username=name or f"u{next(_seq)}_{uuid.uuid4().hex[:6]}")
    if deposit:
        account_deposit(user_id=str(user.id), amount_cents=deposit)
    return str(user.id)


def new_market(**kwargs) -> str:
    market_id = kwargs.pop("market_id", f"MKT-{uuid.uuid4().hex[:10]}")
    market_create(market_id=market_id, title="test market", **kwargs)
    return market_id


def place(user_id: str, market_id: str, side: str, direction: str, price: int, qty: int, tif: str = "GTC", coid=None):
    new = NewOrder(coid or uuid.uuid4().hex, side, direction, price, qty, tif)
    return order_place(user_id=user_id, market_id=market_id, new=new)


def account(user_id: str) -> Account:
    return Account.objects.get(user_id=user_id)


def position(user_id: str, market_id: str) -> Position:
    return Position.objects.filter(user_id=user_id, market_id=market_id).first() or Position(
        user_id=user_id, market_id=market_id)


def snapshot() -> tuple:
    """Everything a failed operation must leave untouched."""
    return (
        sorted(Account.objects.values_list("user_id", "available_balance", "frozen_balance", "version")),
        sorted(Position.objects.values_list("user_id", "market_id", "yes_volume", "yes_cost_sum", "yes_pending_sell",
                                            "no_volume", "no_cost_sum", "no_pending_sell")),
        sorted((str(i), s, f, fa) for i, s, f, fa in Order.objects.values_list("id", "status", "filled_quantity",
                                                                                 "frozen_amount")),
        Trade.objects.count(),
        LedgerEntry.objects.count(),
        sorted(Market.objects.values_list("id", "status", "reserve_balance", "total_yes_shares", "sequence_id")),
    )


@pytest.fixture
def amm():
    account_deposit(user_id=AMM_USER_ID, amount_cents=1_000_000)
    return AMM_USER_ID


@pytest.fixture
def fee_account():
    return lambda: account(FEE_USER_ID)


@pytest.fixture
def admin_login(client):
    """admin_login(*perms) -> the test client logged in as a staff user holding exactly
    `perms` ("exchange.change_market", ...), not a superuser."""
    from django.contrib.auth.models import Permission
    from django.contrib.auth.models import User as StaffUser

    def _login(*perms: str, name: str | None = None):
        user = StaffUser.objects.create_user(username=name or f"staff{next(_seq)}", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        client.force_login(user)
        return client

    return _login
