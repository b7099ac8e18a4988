"""Desired quotes vs live orders → minimal replacements (SPEC §6, §3.6)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import BookType, Direction, Side
from amm.strategy.diff import diff_orders
from amm.strategy.types import BOOK_TYPE_OF, DesiredQuote, LiveOrder, Replacement


def quote(side, direction, price, qty, level=0):
    bt = BOOK_TYPE_OF[(side, direction)]
    yv = price if side is Side.YES else 100 - price
    return DesiredQuote(side, direction, price, qty, bt, yv, level)


def live_of(q, oid, remaining=None):
    return LiveOrder(oid, q.side, q.direction, q.price_cents, q.quantity if remaining is None else remaining)


DESIRED = (
    quote(Side.NO, Direction.SELL, 52, 100),  # bid 48
    quote(Side.YES, Direction.SELL, 53, 100),  # ask 53
    quote(Side.YES, Direction.BUY, 47, 100, 1),  # bid 47
    quote(Side.NO, Direction.BUY, 46, 100, 1),  # ask 54
)


def test_nothing_to_do_is_empty():
    live = [live_of(q, f"o{i}") for i, q in enumerate(DESIRED)]
    assert diff_orders(live, DESIRED) == ()
    assert diff_orders([], []) == ()


def test_everything_new_is_placed():
    out = diff_orders([], DESIRED)
    assert [r.kind for r in out] == ["PLACE"] * 4 and [r.new for r in out] == list(DESIRED)


def test_empty_desired_cancels_everything():
    live = [live_of(q, f"o{i}") for i, q in enumerate(DESIRED)]
    out = diff_orders(live, ())
    assert sorted(r.old_order_id for r in out) == ["o0", "o1", "o2", "o3"]
    assert all(r.kind == "CANCEL" for r in out)


def test_moved_price_is_one_replace():
    live = [live_of(q, f"o{i}") for i, q in enumerate(DESIRED)]
    moved = (DESIRED[0], quote(Side.YES, Direction.SELL, 55, 100), DESIRED[2], DESIRED[3])
    assert diff_orders(live, moved) == (Replacement("o1", moved[1]),)


def test_price_tolerance_keeps_close_orders():
    live = [live_of(q, f"o{i}") for i, q in enumerate(DESIRED)]
    moved = (DESIRED[0], quote(Side.YES, Direction.SELL, 54, 100), DESIRED[2], DESIRED[3])
    assert diff_orders(live, moved, price_tolerance_cents=1) == ()
    assert len(diff_orders(live, moved, price_tolerance_cents=0)) == 1


def test_size_tolerance_is_downward_only():
    q = DESIRED[1]
    assert diff_orders([live_of(q, "a", remaining=85)], (q,), size_tolerance_pct=20) == ()  # partial fill: kept
    assert len(diff_orders([live_of(q, "a", remaining=75)], (q,), size_tolerance_pct=20)) == 1  # too small
    assert len(diff_orders([live_of(q, "a", remaining=101)], (q,), size_tolerance_pct=20)) == 1  # never grow


def test_kept_buy_never_freezes_more_cash():
    want = quote(Side.YES, Direction.BUY, 47, 100)
    higher = LiveOrder("a", Side.YES, Direction.BUY, 48, 100)  # within tolerance but costs more
    assert len(diff_orders([higher], (want,), price_tolerance_cents=1)) == 1
    lower = LiveOrder("b", Side.YES, Direction.BUY, 46, 100)
    assert diff_orders([lower], (want,), price_tolerance_cents=1) == ()


def test_kept_order_never_touches_the_new_opposite_side():
    bid = quote(Side.NO, Direction.SELL, 50, 10)  # YES-view bid 50
    ask = quote(Side.YES, Direction.SELL, 51, 10)
    stale_bid = LiveOrder("a", Side.NO, Direction.SELL, 49, 10)  # YES-view 51: within 1 of the bid, = the ask
    out = diff_orders([stale_bid], (bid, ask), price_tolerance_cents=1)
    assert [r.old_order_id for r in out if r.old_order_id] == ["a"]
    assert {r.new for r in out} == {bid, ask}
    harmless = LiveOrder("b", Side.NO, Direction.SELL, 51, 10)  # YES-view 49: kept
    assert diff_orders([harmless], (bid, ask), price_tolerance_cents=1) == (Replacement(None, ask),)


def test_each_live_order_serves_one_quote():
    q = DESIRED[1]
    twin = quote(Side.YES, Direction.SELL, 53, 100, 1)
    out = diff_orders([live_of(q, "a")], (q, twin))
    assert out == (Replacement(None, twin),)


def test_cancels_and_places_are_paired():
    live = [LiveOrder(f"x{i}", Side.YES, Direction.SELL, 90 + i, 5) for i in range(3)]
    out = diff_orders(live, DESIRED)
    assert len(out) == 4 and [r.kind for r in out] == ["REPLACE"] * 3 + ["PLACE"]


live_orders = st.lists(
    st.builds(
        LiveOrder,
        order_id=st.uuids().map(str),
        side=st.sampled_from(list(Side)),
        direction=st.sampled_from(list(Direction)),
        price_cents=st.integers(1, 99),
        remaining=st.integers(1, 500),
    ),
    max_size=12,
    unique_by=lambda o: o.order_id,
)
desired_quotes = st.lists(
    st.builds(
        quote,
        side=st.sampled_from(list(Side)),
        direction=st.sampled_from(list(Direction)),
        price=st.integers(1, 99),
        qty=st.integers(1, 500),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(live=live_orders, desired=desired_quotes, tol=st.integers(0, 3), pct=st.integers(0, 100), fee=st.integers(0, 500))
def test_diff_properties(live, desired, tol, pct, fee):
    out = diff_orders(live, desired, price_tolerance_cents=tol, size_tolerance_pct=pct, fee_bps=fee)
    cancelled = [r.old_order_id for r in out if r.old_order_id is not None]
    placed = [r.new for r in out if r.new is not None]
    assert len(set(cancelled)) == len(cancelled)
    assert set(cancelled) <= {o.order_id for o in live}
    assert all(r.old_order_id is not None or r.new is not None for r in out)
    assert len(out) == max(len(cancelled), len(placed))  # minimal pairing
    kept = [o for o in live if o.order_id not in cancelled]
    assert len(kept) + len(placed) == len(desired)  # one order per desired quote
    # every kept order stands for an unplaced desired quote within tolerance, never larger
    unplaced = list(desired)
    for q in placed:
        unplaced.remove(q)
    for order in kept:
        match = next(
            q for q in unplaced
            if q.book_type is order.book_type and abs(q.price_cents - order.price_cents) <= tol
            and order.remaining <= q.quantity and order.cash_frozen(fee) <= q.cash_needed(fee)
        )
        unplaced.remove(match)
    # feeding the desired quotes back as live orders leaves nothing to do
    echo = [live_of(q, f"e{i}") for i, q in enumerate(desired)]
    assert diff_orders(echo, desired, price_tolerance_cents=tol, size_tolerance_pct=pct, fee_bps=fee) == () or (
        _self_crossing(desired)
    )


def _self_crossing(desired):
    bids = [q.yes_view_price for q in desired if q.is_bid]
    asks = [q.yes_view_price for q in desired if not q.is_bid]
    return bool(bids and asks and max(bids) >= min(asks))
