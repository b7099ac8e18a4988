"""Which side of a trade is the AMM's, in the four scenarios and when it trades with itself."""
from __future__ import annotations

import pytest

from amm.bookkeeping.fills import ProcessedEventSet, trade_legs
from amm.connector import Trade
from amm.constants import AMM_USER_ID

OTHER = "11111111-1111-4111-a111-111111111111"


def trade(scenario: str, *, buyer: str, seller: str, price: int = 60, maker: str = "buy") -> Trade:
    return Trade(id=1, market_id="M", scenario=scenario, price_cents=price, quantity=5, buy_order_id="B",
                 sell_order_id="S", buy_user_id=buyer, sell_user_id=seller,
                 maker_order_id="B" if maker == "buy" else "S", taker_order_id="S" if maker == "buy" else "B",
                 maker_fee=1, taker_fee=3)


@pytest.mark.parametrize(
    "scenario, amm_is, expected",
    [
        # AMM owns the YES-view bid
        ("TRANSFER_YES", "buyer", ("YES", "BUY", 60, "NATIVE_BUY")),
        ("MINT", "buyer", ("YES", "BUY", 60, "NATIVE_BUY")),
        ("BURN", "buyer", ("NO", "SELL", 40, "SYNTHETIC_BUY")),
        ("TRANSFER_NO", "buyer", ("NO", "SELL", 40, "SYNTHETIC_BUY")),
        # AMM owns the YES-view ask
        ("TRANSFER_YES", "seller", ("YES", "SELL", 60, "NATIVE_SELL")),
        ("BURN", "seller", ("YES", "SELL", 60, "NATIVE_SELL")),
        ("MINT", "seller", ("NO", "BUY", 40, "SYNTHETIC_SELL")),
        ("TRANSFER_NO", "seller", ("NO", "BUY", 40, "SYNTHETIC_SELL")),
    ],
)
def test_the_amm_leg_in_each_scenario(scenario, amm_is, expected):
    t = trade(scenario, buyer=AMM_USER_ID if amm_is == "buyer" else OTHER,
              seller=AMM_USER_ID if amm_is == "seller" else OTHER)
    (leg,) = trade_legs(t)
    assert (leg.side, leg.direction, leg.own_price, leg.book_type) == expected
    assert leg.order_id == ("B" if amm_is == "buyer" else "S")
    assert leg.fee == (1 if amm_is == "buyer" else 3)  # maker is the buy order
    assert leg.quantity == 5


def test_self_trade_gives_both_legs_ask_first_with_their_own_fees():
    legs = trade_legs(trade("MINT", buyer=AMM_USER_ID, seller=AMM_USER_ID, maker="sell"))
    assert [(l.order_id, l.side, l.direction, l.fee) for l in legs] == [("S", "NO", "BUY", 1), ("B", "YES", "BUY", 3)]


def test_processed_event_set_is_a_bounded_lru():
    seen = ProcessedEventSet(max_size=3)
    for i in range(3):
        seen.add(i)
    assert seen.contains(0)  # refreshes 0
    seen.add(3)  # evicts 1, the least recently used
    assert [seen.contains(i) for i in range(4)] == [True, False, True, True]
    assert len(seen) == 3
