"""Spread composition and the quote ladder: prices, sizes, backing and limits (SPEC §6, A2)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import BookType, Direction, Side
from amm.strategy.avellaneda import optimal_spread
from amm.strategy.config import StrategyConfig
from amm.strategy.ladder import Capacity, build_ladder, capacity_for, compose_spread, fee_protection_cents, level_size
from amm.strategy.types import Inventory, LiveOrder, fee_per_share

BIG = 10**9


def cap(yes=0, no=0, cash=0, budget=BIG, yes_room=BIG, no_room=BIG):
    return Capacity(yes, no, cash, budget, yes_room, no_room)


def ladder(reservation=50.0, spread=4, lo=1, hi=99, levels=2, spacing=1, size=100, capacity=None, fee_bps=0, **kw):
    return build_ladder(reservation=reservation, spread_cents=spread, lo=lo, hi=hi, levels=levels, spacing=spacing,
                        size=size, capacity=capacity or cap(), fee_bps=fee_bps, **kw)


# --- spread ------------------------------------------------------------------------------
def test_spread_uses_base_as_a_floor():
    cfg = StrategyConfig(base_spread_cents=4, max_spread_cents=15, arrival_decay_k=100.0)
    s = compose_spread(gamma=0.1, sigma=1.0, tau=0.1, fair=50, maker_fee_bps=0, multiplier=1.0, config=cfg)
    assert s.as_term < 4 and s.cents == 4


def test_spread_follows_the_as_term_fee_and_multipliers_and_cap():
    cfg = StrategyConfig(base_spread_cents=2, max_spread_cents=15, arrival_decay_k=1.5)
    s = compose_spread(gamma=1.5, sigma=1.0, tau=0.5, fair=50, maker_fee_bps=0, multiplier=1.0, config=cfg)
    assert math.isclose(s.as_term, optimal_spread(1.5, 1.0, 0.5, 1.5))
    assert s.cents == math.ceil(s.as_term)
    fee = compose_spread(gamma=1.5, sigma=1.0, tau=0.5, fair=50, maker_fee_bps=100, multiplier=1.0, config=cfg)
    assert fee.fee_protection == 2 and fee.cents == math.ceil(s.as_term + 2)
    wide = compose_spread(gamma=1.5, sigma=1.0, tau=0.5, fair=50, maker_fee_bps=0, multiplier=2.0, config=cfg)
    assert wide.cents == math.ceil(2 * s.as_term)
    capped = compose_spread(gamma=2.5, sigma=15.0, tau=1.0, fair=50, maker_fee_bps=0, multiplier=4.0, config=cfg)
    assert capped.cents == 15


def test_fee_protection_uses_the_worse_side():
    assert fee_protection_cents(10, 100) == 2 * fee_per_share(90, 100) == 2
    assert fee_protection_cents(50, 0) == 0
    assert fee_protection_cents(70.2, 250) == 2 * math.ceil(71 * 250 / 10_000)


def test_level_size():
    cfg = StrategyConfig(order_size=100)
    assert level_size(cfg, 0.5) == 50 and level_size(cfg, 0.001) == 1


# --- ladder ------------------------------------------------------------------------------
def test_inventory_backs_quotes_first():
    quotes = ladder(capacity=cap(yes=1_000, no=1_000))
    assert [(q.book_type, q.yes_view_price, q.price_cents, q.level) for q in quotes] == [
        (BookType.SYNTHETIC_BUY, 48, 52, 0),  # bid 48 = SELL NO at 52
        (BookType.NATIVE_SELL, 52, 52, 0),  # ask 52 = SELL YES at 52
        (BookType.SYNTHETIC_BUY, 47, 53, 1),
        (BookType.NATIVE_SELL, 53, 53, 1),
    ]
    assert all(q.quantity == 100 and q.direction is Direction.SELL for q in quotes)


def test_cash_backs_the_rest():
    quotes = ladder(capacity=cap(cash=100_000), fee_bps=100)
    assert [(q.side, q.direction, q.price_cents, q.yes_view_price) for q in quotes[:2]] == [
        (Side.YES, Direction.BUY, 48, 48),  # bid: BUY YES at 48 (NATIVE_BUY)
        (Side.NO, Direction.BUY, 48, 52),  # ask 52: BUY NO at 48 (SYNTHETIC_SELL)
    ]
    assert quotes[0].cash_needed(100) == 100 * (48 + 1)


def test_short_inventory_gives_a_partial_level_then_cash():
    quotes = ladder(capacity=cap(yes=30, no=0, cash=10**6))
    asks = [q for q in quotes if not q.is_bid]
    assert (asks[0].book_type, asks[0].quantity) == (BookType.NATIVE_SELL, 30)
    assert (asks[1].book_type, asks[1].quantity) == (BookType.SYNTHETIC_SELL, 100)


def test_scarce_cash_is_shared_inner_levels_first():
    quotes = ladder(capacity=cap(cash=48 * 100 + 48 * 50), levels=3)
    assert [(q.book_type, q.quantity, q.level) for q in quotes] == [
        (BookType.NATIVE_BUY, 100, 0),
        (BookType.SYNTHETIC_SELL, 50, 0),
    ]


def test_position_limit_caps_buys():
    quotes = ladder(capacity=cap(cash=10**7, yes_room=120, no_room=0), levels=3)
    assert sum(q.quantity for q in quotes if q.book_type is BookType.NATIVE_BUY) == 120
    assert not [q for q in quotes if q.book_type is BookType.SYNTHETIC_SELL]


def test_prices_clamped_into_band_with_bid_below_ask():
    quotes = ladder(reservation=98.7, spread=6, lo=1, hi=99, capacity=cap(yes=10**4, no=10**4), levels=3)
    bids = [q.yes_view_price for q in quotes if q.is_bid]
    asks = [q.yes_view_price for q in quotes if not q.is_bid]
    assert asks == [99] and max(bids) == 96 and max(bids) < min(asks)
    low = ladder(reservation=1.2, spread=4, capacity=cap(yes=10**4, no=10**4))
    assert min(q.yes_view_price for q in low if q.is_bid) == 1
    assert max(q.yes_view_price for q in low if q.is_bid) < min(q.yes_view_price for q in low if not q.is_bid)


def test_one_side_with_distress_discount():
    asks_only = ladder(capacity=cap(yes=10**4, no=10**4), quote_bids=False, discount_cents=3)
    assert all(not q.is_bid for q in asks_only) and asks_only[0].yes_view_price == 52 - 3
    bids_only = ladder(capacity=cap(yes=10**4, no=10**4), quote_asks=False, discount_cents=3)
    assert all(q.is_bid for q in bids_only) and bids_only[0].yes_view_price == 48 + 3
    assert ladder(quote_bids=False, quote_asks=False, capacity=cap(yes=10)) == ()


def test_asymmetric_band_applies_to_own_side_prices():
    # band [10, 99]: a NO order at 100 − 95 = 5 would be out of band.
    quotes = ladder(reservation=93.0, spread=4, lo=10, hi=99, capacity=cap(yes=10**4, no=10**4, cash=10**7))
    for q in quotes:
        assert 10 <= q.price_cents <= 99 and 10 <= q.yes_view_price <= 99


def test_capacity_counts_what_live_orders_hold():
    inv = Inventory(yes_volume=500, no_volume=400, yes_available=300, no_available=350,
                    yes_cost_sum_cents=20_000, no_cost_sum_cents=10_000, cash_cents=5_000)
    live = [
        LiveOrder("s1", Side.YES, Direction.SELL, 55, 200),
        LiveOrder("s2", Side.NO, Direction.SELL, 50, 50),
        LiveOrder("b1", Side.YES, Direction.BUY, 45, 10),
    ]
    cfg = StrategyConfig(budget_limit_cents=100_000, position_limit=1_000)
    c = capacity_for(inv, live, cfg, fee_bps=100)
    assert c == Capacity(500, 400, 5_000 + 10 * 45, 70_000, 500, 600)  # frozen fee not counted
    assert c.buy_cash == 5_450


# --- properties ----------------------------------------------------------------------------
@st.composite
def ladder_case(draw):
    lo = draw(st.integers(1, 60))
    hi = draw(st.integers(lo, 99))
    return dict(
        reservation=draw(st.floats(-20, 120)),
        spread=draw(st.integers(1, 98)),
        lo=lo,
        hi=hi,
        levels=draw(st.integers(1, 10)),
        spacing=draw(st.integers(1, 20)),
        size=draw(st.integers(1, 5_000)),
        capacity=Capacity(
            draw(st.integers(0, 20_000)), draw(st.integers(0, 20_000)), draw(st.integers(0, 2_000_000)),
            draw(st.integers(0, 2_000_000)), draw(st.integers(0, 20_000)), draw(st.integers(0, 20_000)),
        ),
        fee_bps=draw(st.integers(0, 1_000)),
        quote_bids=draw(st.booleans()),
        quote_asks=draw(st.booleans()),
        discount_cents=draw(st.integers(0, 5)),
        bid_max=draw(st.one_of(st.none(), st.integers(-5, 105))),
        ask_min=draw(st.one_of(st.none(), st.integers(-5, 105))),
        bid_size=draw(st.one_of(st.none(), st.integers(0, 5_000))),
        ask_size=draw(st.one_of(st.none(), st.integers(0, 5_000))),
    )


def assert_ladder_invariants(quotes, *, lo, hi, levels, size, capacity, fee_bps, quote_bids=True, quote_asks=True,
                             bid_max=None, ask_min=None, bid_size=None, ask_size=None, **_):
    bids = [q for q in quotes if q.is_bid]
    asks = [q for q in quotes if not q.is_bid]
    assert len(quotes) <= 2 * levels
    for q in quotes:
        assert lo <= q.price_cents <= hi, q  # own-side price in band
        assert lo <= q.yes_view_price <= hi, q
        assert 1 <= q.quantity <= ((bid_size if q.is_bid else ask_size) or size)
        if q.is_bid and bid_max is not None:
            assert q.yes_view_price <= bid_max
        if not q.is_bid and ask_min is not None:
            assert q.yes_view_price >= ask_min
        expected_yes_view = q.price_cents if q.side is Side.YES else 100 - q.price_cents
        assert q.yes_view_price == expected_yes_view
    if bids and asks:
        assert max(q.yes_view_price for q in bids) < min(q.yes_view_price for q in asks)
    assert quote_bids or not bids
    assert quote_asks or not asks
    sell_yes = sum(q.quantity for q in quotes if q.side is Side.YES and q.direction is Direction.SELL)
    sell_no = sum(q.quantity for q in quotes if q.side is Side.NO and q.direction is Direction.SELL)
    buy_yes = sum(q.quantity for q in quotes if q.side is Side.YES and q.direction is Direction.BUY)
    buy_no = sum(q.quantity for q in quotes if q.side is Side.NO and q.direction is Direction.BUY)
    assert sell_yes <= capacity.yes_sellable and sell_no <= capacity.no_sellable  # A2
    assert buy_yes <= capacity.yes_buy_room and buy_no <= capacity.no_buy_room  # position limit
    cash = sum(q.cash_needed(fee_bps) for q in quotes)
    assert cash <= capacity.cash_free and cash <= capacity.budget_free
    # backing order: a cash-backed ask only once sellable YES is used up (same for bids / NO)
    if any(q.direction is Direction.BUY for q in asks):
        assert sell_yes == capacity.yes_sellable
    if any(q.direction is Direction.BUY for q in bids):
        assert sell_no == capacity.no_sellable or any(
            not (lo <= 100 - q.yes_view_price <= hi) for q in bids if q.direction is Direction.BUY
        )
    # price levels are distinct and move outwards per side
    for side in (bids, asks):
        prices = [q.yes_view_price for q in side]
        assert len(set(prices)) == len(prices)


@settings(max_examples=400, deadline=None)
@given(case=ladder_case())
def test_ladder_invariants_on_random_inputs(case):
    quotes = ladder(**case)
    assert_ladder_invariants(quotes, **case)
    assert ladder(**case) == quotes  # deterministic


# --- issue 13: core cap, edge bounds, per-side sizes, sell-only ---------------------------------
def test_core_cap_leaves_room_for_every_multiplier():
    cfg = StrategyConfig(base_spread_cents=2, max_spread_cents=16)
    huge = compose_spread(gamma=2.5, sigma=15.0, tau=1.0, fair=50, maker_fee_bps=0, multiplier=1.0, config=cfg)
    assert huge.core_capped and huge.core == 8 and huge.cents == 8
    widen = compose_spread(gamma=2.5, sigma=15.0, tau=1.0, fair=50, maker_fee_bps=0, multiplier=1.5, config=cfg)
    assert widen.cents == 12  # WIDEN still acts on a capped core
    both = compose_spread(gamma=2.5, sigma=15.0, tau=1.0, fair=50, maker_fee_bps=0, multiplier=4.0, config=cfg)
    assert both.cents == 16  # the total cap still holds
    base_over_half = StrategyConfig(base_spread_cents=12, max_spread_cents=15)
    s = compose_spread(gamma=2.5, sigma=15.0, tau=1.0, fair=50, maker_fee_bps=0, multiplier=1.0, config=base_over_half)
    assert s.cents == 12  # never below the base


def test_spread_with_variance_uses_the_exposure_step_and_the_learned_k():
    cfg = StrategyConfig(base_spread_cents=1, max_spread_cents=40)
    s = compose_spread(gamma=2.0, sigma=1.0, tau=1.0, fair=50, maker_fee_bps=0, multiplier=1.0, config=cfg,
                       variance=100.0, exposure_step=0.05, k=0.5)
    assert math.isclose(s.as_term, 2.0 * 100.0 * 0.05 + (2 / 2.0) * math.log1p(2.0 / 0.5)) and s.k == 0.5


def test_bounds_move_the_best_prices_and_can_remove_a_side():
    quotes = ladder(capacity=cap(yes=10**4, no=10**4), spread=2, bid_max=45, ask_min=53)
    assert [q.yes_view_price for q in quotes] == [45, 53, 44, 54]
    no_bids = ladder(reservation=2.0, capacity=cap(yes=10**4, no=10**4), bid_max=0)
    assert no_bids and all(not q.is_bid for q in no_bids)
    no_asks = ladder(reservation=98.0, capacity=cap(yes=10**4, no=10**4), ask_min=100)
    assert no_asks and all(q.is_bid for q in no_asks)


def test_side_sizes_totals_and_sell_only():
    quotes = ladder(capacity=cap(yes=10**4, no=10**4), bid_size=30, ask_size=0)
    assert [(q.is_bid, q.quantity) for q in quotes] == [(True, 30), (True, 30)]
    capped = ladder(capacity=cap(yes=10**4, no=10**4), quote_bids=False, ask_total=150)
    assert [q.quantity for q in capped] == [100, 50]
    # sell-only: no YES to sell and no cash-backed BUY NO instead
    assert ladder(capacity=cap(no=10**4, cash=10**7), quote_bids=False, sell_only=True) == ()
    sells = ladder(capacity=cap(yes=120, cash=10**7), quote_bids=False, sell_only=True)
    assert [(q.direction, q.quantity) for q in sells] == [(Direction.SELL, 100), (Direction.SELL, 20)]
