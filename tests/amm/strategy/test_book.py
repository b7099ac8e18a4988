"""LocalOrderBook: snapshots, deltas, gap detection, derived metrics, external top (seed §5.2)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import Direction, Side
from amm.strategy.book import LocalOrderBook, external_micro_price, external_top, micro_price
from amm.strategy.types import LiveOrder


def make_book() -> LocalOrderBook:
    book = LocalOrderBook("M")
    book.apply_snapshot({"sequence_id": 10, "bids": [[48, 100], [47, 200], [45, 50], [44, 10]], "asks": [[52, 300], [53, 100]]})
    return book


def test_snapshot_metrics():
    book = make_book()
    assert (book.best_bid, book.best_ask) == (48, 52)
    assert book.mid_price == 50.0
    assert book.spread == 4
    assert book.bid_depth_3 == 350
    assert book.ask_depth_3 == 400
    assert book.get_vwap("bid", 2) == (48 * 100 + 47 * 200) / 300
    assert book.get_vwap("ask", 1) == 52
    # thin bid (100) vs heavy ask (300): micro-price leans to the bid
    assert book.micro_price() == (48 * 300 + 52 * 100) / 400 == 49.0
    assert book.last_sequence_id == 10 and not book.needs_snapshot


def test_empty_book_metrics_are_none():
    book = LocalOrderBook("M")
    assert book.best_bid is None and book.best_ask is None and book.mid_price is None and book.spread is None
    assert book.micro_price() is None and book.get_vwap("bid", 3) is None
    assert book.bid_depth_3 == 0


def test_delta_updates_and_removes_levels():
    book = make_book()
    assert book.apply_delta({"sequence_id": 11, "bids": [[48, 0], [49, 5]], "asks": [[52, 10]]})
    assert book.best_bid == 49 and book.bids[49] == 5 and 48 not in book.bids
    assert book.asks[52] == 10
    assert book.last_sequence_id == 11


def test_delta_gap_marks_stale_until_snapshot():
    book = make_book()
    assert book.apply_delta({"sequence_id": 13, "bids": [[49, 5]]}) is False
    assert book.needs_snapshot and 49 not in book.bids
    assert book.apply_delta({"sequence_id": 14, "bids": [[49, 5]]}) is False  # ignored while stale
    assert external_top(book) == (None, 0, None, 0)  # a stale book feeds no price
    book.apply_snapshot({"sequence_id": 20, "bids": [[40, 1]], "asks": [[60, 1]]})
    assert not book.needs_snapshot and book.best_bid == 40
    assert book.apply_delta({"sequence_id": 21, "asks": [[59, 3]]}) and book.best_ask == 59


def test_delta_moving_the_sequence_by_more_than_one_applies_when_prev_matches():
    book = make_book()  # sequence 10
    assert book.apply_delta({"prev_sequence_id": 10, "sequence_id": 13, "bids": [[49, 5]], "asks": []}) is True
    assert book.bids[49] == 5 and book.last_sequence_id == 13 and not book.stale


def test_delta_whose_prev_is_not_the_last_sequence_is_a_gap():
    book = make_book()  # sequence 10
    assert book.apply_delta({"prev_sequence_id": 12, "sequence_id": 14, "bids": [[49, 5]]}) is False
    assert book.needs_snapshot and 49 not in book.bids and book.last_sequence_id == 10
    # the missed delta arriving late does not heal it: only a snapshot does
    assert book.apply_delta({"prev_sequence_id": 10, "sequence_id": 12, "bids": [[49, 5]]}) is False
    book.apply_snapshot({"sequence_id": 14, "bids": [[49, 5]], "asks": []})
    assert book.apply_delta({"prev_sequence_id": 14, "sequence_id": 16, "asks": [[59, 3]]}) and book.best_ask == 59


def test_delta_overlapping_the_snapshot_is_ignored_not_a_gap():
    book = make_book()  # sequence 10: a delta 8 -> 10 was already in the snapshot
    assert book.apply_delta({"prev_sequence_id": 8, "sequence_id": 10, "bids": [[49, 5]]}) is True
    assert 49 not in book.bids and not book.stale


def test_old_or_repeated_delta_is_ignored():
    book = make_book()
    assert book.apply_delta({"sequence_id": 10, "bids": [[49, 5]]}) is True
    assert book.apply_delta({"sequence_id": 3, "bids": [[49, 5]]}) is True
    assert 49 not in book.bids and book.last_sequence_id == 10


def test_micro_price_zero_sizes_is_mid():
    assert micro_price(40, 0, 60, 0) == 50


def test_external_top_removes_own_orders():
    book = make_book()
    # SELL NO at 52 is a YES-view bid at 48 (SPEC §3.2): the whole 48 level is ours.
    own = [
        LiveOrder("a", Side.NO, Direction.SELL, 52, 100),
        LiveOrder("b", Side.YES, Direction.SELL, 52, 100),  # part of the 52 ask
    ]
    assert external_top(book, own) == (47, 200, 52, 200)
    assert external_micro_price(book, own) == (47 * 200 + 52 * 200) / 400


def test_external_micro_none_when_a_side_is_only_ours():
    book = LocalOrderBook("M", bids={48: 10}, asks={52: 10})
    own = [LiveOrder("a", Side.YES, Direction.BUY, 48, 10)]
    assert external_micro_price(book, own) is None


def test_crossed_external_book_gives_no_micro_price():
    assert external_micro_price(LocalOrderBook("M", bids={55: 1}, asks={50: 1})) is None


levels = st.dictionaries(st.integers(1, 99), st.integers(0, 1000), max_size=12)


@settings(max_examples=150, deadline=None)
@given(snapshot_bids=levels, snapshot_asks=levels, deltas=st.lists(st.tuples(levels, levels), max_size=8))
def test_deltas_match_a_model_dict(snapshot_bids, snapshot_asks, deltas):
    book = LocalOrderBook("M")
    book.apply_snapshot({"sequence_id": 1, "bids": list(snapshot_bids.items()), "asks": list(snapshot_asks.items())})
    model_bids = {p: q for p, q in snapshot_bids.items() if q > 0}
    model_asks = {p: q for p, q in snapshot_asks.items() if q > 0}
    for i, (bids, asks) in enumerate(deltas):
        prev, seq = 1 + 3 * i, 4 + 3 * i  # a transaction may move the sequence by several
        book.apply_delta({"prev_sequence_id": prev, "sequence_id": seq, "bids": list(bids.items()), "asks": list(asks.items())})
        for model, delta in ((model_bids, bids), (model_asks, asks)):
            for p, q in delta.items():
                if q > 0:
                    model[p] = q
                else:
                    model.pop(p, None)
    assert book.bids == model_bids and book.asks == model_asks
    assert book.best_bid == (max(model_bids) if model_bids else None)
    assert book.best_ask == (min(model_asks) if model_asks else None)
    assert book.bid_depth_3 == sum(model_bids[p] for p in sorted(model_bids, reverse=True)[:3])
    micro = book.micro_price()
    if micro is not None:
        assert min(book.best_bid, book.best_ask) <= micro <= max(book.best_bid, book.best_ask)
