"""`invariants_check` (SPEC §3.5) catches each kind of corruption, named.

A small consistent platform is built through the services, then one thing is corrupted
behind the engine's back with raw SQL; the check must name the violated rule and the
market or user at fault. (I2, I4 and "available = Σ ledger" are covered by the
check_invariants command test.)
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection

from exchange.enums import RESERVE_USER_ID
from exchange.invariants import invariants_check
from tests.exchange.conftest import new_market, new_user, place

pytestmark = pytest.mark.django_db


@dataclass
class Book:
    market: str
    alice: str  # 6 YES held, 4 more pending in an open sell
    bob: str  # 7 NO held, 3 more pending in an open sell
    carol: str  # cash frozen by an open buy
    alice_sell: str
    bob_sell: str
    carol_buy: str


@pytest.fixture
def book() -> Book:
    """A MINT of 10 pairs at 60, then open sells on both sides and an open buy: every
    figure the checks compare is non-zero."""
    market = new_market(maker_fee_bps=100, taker_fee_bps=200)
    alice, bob, carol = new_user(), new_user(), new_user()
    place(alice, market, "YES", "BUY", 60, 10)
    place(bob, market, "NO", "BUY", 45, 10)  # MINT 10 at 60: alice 10 YES, bob 10 NO, reserve 1000
    alice_sell = place(alice, market, "YES", "SELL", 70, 4).order  # ask at 70
    bob_sell = place(bob, market, "NO", "SELL", 50, 3).order  # bid at 50
    carol_buy = place(carol, market, "YES", "BUY", 30, 5).order  # bid at 30
    assert invariants_check() == []
    return Book(market, alice, bob, carol, str(alice_sell.id), str(bob_sell.id), str(carol_buy.id))


def corrupt(sql: str, params: dict) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount >= 1, "the corruption touched no row"
    return invariants_check()


def params(book: Book) -> dict:
    return {"market": book.market, "alice": book.alice, "bob": book.bob, "carol": book.carol,
            "reserve": RESERVE_USER_ID, "alice_sell": book.alice_sell, "bob_sell": book.bob_sell,
            "carol_buy": book.carol_buy}


def named(violations: list[str], rule: str, subject: str) -> bool:
    return any(v.startswith(f"{rule}: {subject}") for v in violations)


@pytest.mark.parametrize("sql", [
    "UPDATE positions SET yes_volume = yes_volume + 1 WHERE user_id = %(alice)s AND market_id = %(market)s",
    "UPDATE positions SET no_volume = no_volume + 1 WHERE user_id = %(bob)s AND market_id = %(market)s",
    "UPDATE markets SET total_no_shares = total_no_shares + 1 WHERE id = %(market)s",
], ids=["yes_volume", "no_volume", "total_no_shares"])
def test_i1_share_balance(book, sql):
    violations = corrupt(sql, params(book))
    assert named(violations, "I1 share balance", f"market {book.market}:"), violations


@pytest.mark.parametrize("sql", [
    "UPDATE positions SET yes_cost_sum = yes_cost_sum + 1 WHERE user_id = %(alice)s AND market_id = %(market)s",
    "UPDATE positions SET no_cost_sum = no_cost_sum - 1 WHERE user_id = %(bob)s AND market_id = %(market)s",
    "UPDATE positions SET realized_pnl = realized_pnl + 7 WHERE user_id = %(bob)s AND market_id = %(market)s",
    # Cash paid for shares that the ledger no longer shows.
    "UPDATE ledger_entries SET amount = amount + 1 WHERE user_id = %(alice)s AND market_id = %(market)s "
    "AND entry_type = 'MINT_COST'",
], ids=["yes_cost_sum", "no_cost_sum", "realized_pnl", "ledger_paid"])
def test_i3_cost_conservation(book, sql):
    violations = corrupt(sql, params(book))
    assert named(violations, "I3 cost conservation", f"market {book.market}:"), violations


def test_i5_reserve_consistency(book):
    """The reserve's ledger no longer adds up to the reserve balance (only I5 sees this:
    the reserve user has no account, and I2/I4 read the balance, not the ledger)."""
    violations = corrupt(
        "UPDATE ledger_entries SET amount = amount - 100 WHERE user_id = %(reserve)s AND market_id = %(market)s "
        "AND entry_type = 'MINT_RESERVE_IN'", params(book))
    assert violations == [f"I5 reserve consistency: market {book.market}: reserve 1000 <> Σ reserve ledger 900"]


@pytest.mark.parametrize("sql", [
    # The order closed without giving its cash back: the account still holds it frozen.
    "UPDATE orders SET status = 'CANCELLED', frozen_amount = 0 WHERE id = %(carol_buy)s",
    # The account lost track of frozen cash (moved to available, so I4 still holds).
    "UPDATE accounts SET frozen_balance = frozen_balance - 10, available_balance = available_balance + 10 "
    "WHERE user_id = %(carol)s",
], ids=["order_closed", "account_frozen"])
def test_frozen_balance_is_the_cash_open_orders_freeze(book, sql):
    violations = corrupt(sql, params(book))
    assert named(violations, "account frozen = cash frozen by open orders", f"user {book.carol}:"), violations


@pytest.mark.parametrize("sql,user", [
    ("UPDATE positions SET yes_pending_sell = yes_pending_sell - 1 WHERE user_id = %(alice)s "
     "AND market_id = %(market)s", "alice"),
    ("UPDATE positions SET no_pending_sell = no_pending_sell + 1 WHERE user_id = %(bob)s "
     "AND market_id = %(market)s", "bob"),
    # The sell closed without handing its shares back: they stay pending.
    ("UPDATE orders SET status = 'CANCELLED', frozen_amount = 0 WHERE id = %(alice_sell)s", "alice"),
    ("UPDATE orders SET filled_quantity = 1, frozen_amount = 2, status = 'PARTIALLY_FILLED' "
     "WHERE id = %(bob_sell)s", "bob"),
], ids=["yes_pending", "no_pending", "yes_sell_closed", "no_sell_part_filled"])
def test_pending_sell_is_the_remainder_of_open_sells(book, sql, user):
    violations = corrupt(sql, params(book))
    subject = f"user {getattr(book, user)} market {book.market}:"
    assert named(violations, "pending_sell = remaining of open sells", subject), violations
