"""Edge protection bounds: fair ± minimum half-spread, unwind allowance, band ends, post-only (edge.py)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.edge import edge_cents, quote_bounds


def test_fair_edge():
    b = quote_bounds(fair=50.0, edge=1.0, lo=1, hi=99)
    assert (b.bid_max, b.ask_min, b.bid_by, b.ask_by) == (49, 51, "FAIR", "FAIR")
    b = quote_bounds(fair=50.4, edge=1.0, lo=1, hi=99)
    assert (b.bid_max, b.ask_min) == (49, 52)


def test_edge_adds_one_shares_maker_fee_at_the_worse_side():
    assert edge_cents(50.0, 1.0, 0) == 1.0
    assert edge_cents(30.0, 1.0, 100) == 1.0 + math.ceil(70 * 100 / 10_000)


def test_unwind_may_go_through_fair_by_the_allowance_only():
    b = quote_bounds(fair=5.0, edge=1.0, lo=1, hi=99, unwind_loss=2.0, unwind_asks=True)
    assert (b.ask_min, b.ask_by) == (3, "UNWIND")  # selling YES at 1 when fair is 5: never
    b = quote_bounds(fair=95.0, edge=1.0, lo=1, hi=99, unwind_loss=2.0, unwind_bids=True)
    assert (b.bid_max, b.bid_by) == (97, "UNWIND")


def test_band_ends_are_never_on_the_wrong_side_of_fair():
    b = quote_bounds(fair=1.5, edge=1.0, lo=1, hi=99, unwind_loss=5.0, unwind_asks=True)
    assert (b.ask_min, b.ask_by) == (2, "BAND")
    b = quote_bounds(fair=98.7, edge=1.0, lo=1, hi=99, unwind_loss=5.0, unwind_bids=True)
    assert (b.bid_max, b.bid_by) == (98, "BAND")


def test_post_only_behind_the_external_book():
    b = quote_bounds(fair=52.0, edge=1.0, lo=1, hi=99, external_bid=44, external_ask=46)
    assert (b.bid_max, b.bid_by) == (45, "BOOK")  # the case: never bid 47 into a 46 ask
    b = quote_bounds(fair=40.0, edge=1.0, lo=1, hi=99, external_bid=44, external_ask=46)
    assert (b.ask_min, b.ask_by) == (45, "BOOK")


@settings(max_examples=500, deadline=None)
@given(fair=st.floats(1, 99), edge=st.floats(0.5, 20), lo=st.integers(1, 45), hi=st.integers(55, 99),
       ext_bid=st.one_of(st.none(), st.integers(1, 99)), ext_ask=st.one_of(st.none(), st.integers(1, 99)))
def test_two_sided_bounds_never_meet_and_respect_fair_and_book(fair, edge, lo, hi, ext_bid, ext_ask):
    b = quote_bounds(fair=fair, edge=edge, lo=lo, hi=hi, external_bid=ext_bid, external_ask=ext_ask)
    assert b.bid_max < b.ask_min
    assert b.bid_max <= fair - edge + 1e-6 and b.ask_min >= fair + edge - 1e-6
    if ext_ask is not None:
        assert b.bid_max < ext_ask
    if ext_bid is not None:
        assert b.ask_min > ext_bid
