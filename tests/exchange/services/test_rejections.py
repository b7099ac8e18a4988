"""Bad input gets a specific error code and changes nothing (SPEC §3.2, issue 2)."""
import pytest

from exchange.exceptions import ExchangeError
from exchange.invariants import invariants_check
from exchange.services import (
    NewOrder,
    Replacement,
    account_withdraw,
    market_set_status,
    order_cancel,
    order_place,
    orders_replace,
)
from tests.exchange.conftest import new_market, new_user, place, snapshot

pytestmark = pytest.mark.django_db


def rejected(fn, code: str, status: int):
    before = snapshot()
    with pytest.raises(ExchangeError) as info:
        fn()
    assert (info.value.code, info.value.status) == (code, status), info.value.detail
    assert snapshot() == before, "a rejected operation changed state"
    return info.value


@pytest.fixture
def market():
    return new_market(min_price_cents=5, max_price_cents=95)


def test_unknown_market(market):
    user = new_user()
    rejected(lambda: place(user, "NO-SUCH-MARKET", "YES", "BUY", 50, 1), "MARKET_NOT_FOUND", 404)


@pytest.mark.parametrize("price", [0, 100, -3])
def test_price_outside_1_99(market, price):
    user = new_user()
    err = rejected(lambda: place(user, market, "YES", "BUY", price, 1), "PRICE_OUT_OF_RANGE", 400)
    assert err.field == "price_cents"


@pytest.mark.parametrize("price", [4, 96])
def test_price_outside_the_market_band(market, price):
    user = new_user()
    rejected(lambda: place(user, market, "NO", "BUY", price, 1), "PRICE_OUT_OF_RANGE", 400)


@pytest.mark.parametrize("qty", [0, -5, True, 2.5])
def test_zero_negative_or_non_integer_quantity(market, qty):
    user = new_user()
    rejected(lambda: place(user, market, "YES", "BUY", 50, qty), "INVALID_QUANTITY", 400)


@pytest.mark.parametrize("side,direction", [("MAYBE", "BUY"), ("YES", "HOLD")])
def test_unknown_side_or_direction(market, side, direction):
    user = new_user()
    rejected(lambda: place(user, market, side, direction, 50, 1), "INVALID_INPUT", 400)


def test_insufficient_funds(market):
    poor = new_user(deposit=499)
    rejected(lambda: place(poor, market, "YES", "BUY", 50, 10), "INSUFFICIENT_FUNDS", 422)


def test_insufficient_shares(market):
    user = new_user()
    rejected(lambda: place(user, market, "YES", "SELL", 50, 1), "INSUFFICIENT_SHARES", 422)


@pytest.mark.parametrize("status", ["SUSPENDED", "HALTED"])
def test_market_not_active(market, status):
    user = new_user()
    market_set_status(market_id=market, status=status)
    rejected(lambda: place(user, market, "YES", "BUY", 50, 1), "MARKET_NOT_ACTIVE", 409)


def test_duplicate_client_order_id_with_different_content(market):
    user = new_user()
    first = place(user, market, "YES", "BUY", 50, 2, coid="same-id")
    rejected(lambda: place(user, market, "YES", "BUY", 51, 2, coid="same-id"), "DUPLICATE_CLIENT_ORDER_ID", 409)
    repeat = place(user, market, "YES", "BUY", 50, 2, coid="same-id")
    assert (repeat.created, repeat.order.id) == (False, first.order.id)


def test_cancel_of_a_closed_or_foreign_order(market):
    alice, bob = new_user(), new_user()
    order = place(alice, market, "YES", "BUY", 50, 2).order
    rejected(lambda: order_cancel(user_id=bob, order_id=order.id), "ORDER_NOT_FOUND", 404)
    order_cancel(user_id=alice, order_id=order.id)
    rejected(lambda: order_cancel(user_id=alice, order_id=order.id), "ORDER_NOT_OPEN", 409)
    rejected(lambda: order_cancel(user_id=alice, order_id="not-a-uuid"), "ORDER_NOT_FOUND", 404)


def test_withdrawal_beyond_available():
    user = new_user(deposit=100)
    rejected(lambda: account_withdraw(user_id=user, amount_cents=101), "INSUFFICIENT_FUNDS", 422)
    rejected(lambda: account_withdraw(user_id=user, amount_cents=0), "INVALID_INPUT", 400)


def test_replace_is_all_or_nothing_when_a_new_order_cannot_be_funded(market):
    user = new_user(deposit=5_000)
    old = place(user, market, "YES", "BUY", 40, 10).order  # freezes 400
    news = [
        Replacement(str(old.id), NewOrder("r-1", "YES", "BUY", 41, 10)),
        Replacement(None, NewOrder("r-2", "YES", "BUY", 42, 200)),  # 8,400 > what is left
    ]
    err = rejected(lambda: orders_replace(user_id=user, market_id=market, replacements=news), "INSUFFICIENT_FUNDS", 422)
    assert "replacements[1]" in err.detail


def test_replace_is_all_or_nothing_when_an_old_order_is_gone(market):
    user = new_user()
    live = place(user, market, "YES", "BUY", 40, 1).order
    gone = place(user, market, "YES", "BUY", 41, 1).order
    order_cancel(user_id=user, order_id=gone.id)
    news = [Replacement(str(live.id), NewOrder("x-1", "YES", "BUY", 42, 1)),
            Replacement(str(gone.id), NewOrder("x-2", "YES", "BUY", 43, 1))]
    err = rejected(lambda: orders_replace(user_id=user, market_id=market, replacements=news), "ORDER_NOT_OPEN", 409)
    assert "replacements[1]" in err.detail


def test_replace_rejects_a_reused_client_order_id(market):
    user = new_user()
    place(user, market, "YES", "BUY", 40, 1, coid="used")
    news = [Replacement(None, NewOrder("used", "YES", "BUY", 42, 1))]
    rejected(lambda: orders_replace(user_id=user, market_id=market, replacements=news), "DUPLICATE_CLIENT_ORDER_ID", 409)
    assert invariants_check() == []


def test_idempotent_repeat_places_nothing_new(market):
    user = new_user()
    new = NewOrder("once", "NO", "BUY", 30, 3)
    order_place(user_id=user, market_id=market, new=new)
    before = snapshot()
    again = order_place(user_id=user, market_id=market, new=new)
    assert again.created is False
    assert snapshot() == before
