"""The event feed moves the pushed books by the stream's book deltas (`book_events`), so that a
fill's requote, asked for by the same batch, reads the book after the fill rather than the
platform's over REST (issue 15: tick-to-quote). Only what is exact is written, and a book is
never written over a newer one, whichever feed writes it (the WebSocket feed writes it too).
Real Redis; the books as the feeds store them."""
from __future__ import annotations

from amm import state
from amm.runtime.event_feed import books_advance

M = "MKT-DELTAS"


def _delta(prev: int, seq: int, bids=(), asks=()) -> dict:
    return {"market_id": M, "prev_sequence_id": prev, "sequence_id": seq,
            "bids": [list(x) for x in bids], "asks": [list(x) for x in asks]}


def _stored() -> dict:
    book = state.push_books_get([M])[M]
    return {"sequence_id": book["sequence_id"], "bids": book["bids"], "asks": book["asks"]}


def test_a_chain_of_deltas_moves_the_stored_book_and_an_old_one_is_skipped(redis_conn):
    state.push_book_write(M, {"sequence_id": 10, "bids": [[45, 100], [44, 50]], "asks": [[47, 80]]}, now=1)
    written = books_advance({M: [_delta(9, 10, bids=[(45, 1)]),  # already in the stored book: skipped
                                 _delta(10, 12, bids=[(45, 0), (46, 30)]),
                                 _delta(12, 13, asks=[(47, 60), (48, 5)])]}, now=2, depth=20)
    assert written == 1
    assert _stored() == {"sequence_id": 13, "bids": [[46, 30], [44, 50]], "asks": [[47, 60], [48, 5]]}


def test_a_gap_leaves_the_stored_book_as_it_was(redis_conn):
    state.push_book_write(M, {"sequence_id": 10, "bids": [[45, 100]], "asks": [[47, 80]]}, now=1)
    assert books_advance({M: [_delta(11, 12, bids=[(46, 30)])]}, now=2, depth=20) == 0
    assert books_advance({M: [_delta(10, 11, bids=[(46, 30)]), _delta(12, 13, asks=[(48, 1)])]}, now=2,
                         depth=20) == 0  # nothing of a chain that breaks further on
    assert _stored() == {"sequence_id": 10, "bids": [[45, 100]], "asks": [[47, 80]]}


def test_no_stored_book_is_left_to_the_websocket_feed(redis_conn):
    assert books_advance({M: [_delta(10, 11, bids=[(46, 30)])]}, now=2, depth=20) == 0
    assert state.push_books_get([M])[M] is None


def test_a_capped_side_is_not_moved_by_a_removal_in_view_but_keeps_its_top_levels_on_an_addition(redis_conn):
    bids = [[50 - i, 10] for i in range(3)]  # 50, 49, 48: a side at the cap of 3 stored levels
    state.push_book_write(M, {"sequence_id": 5, "bids": bids, "asks": [[52, 10]]}, now=1)
    # the next level (47, not stored) would come into view: not exact
    assert books_advance({M: [_delta(5, 6, bids=[(49, 0)])]}, now=2, depth=3) == 0
    assert _stored()["sequence_id"] == 5
    # a better level pushes the worst out of view: the top 3 are still known
    assert books_advance({M: [_delta(5, 6, bids=[(51, 7)])]}, now=2, depth=3) == 1
    assert _stored() == {"sequence_id": 6, "bids": [[51, 7], [50, 10], [49, 10]], "asks": [[52, 10]]}
    # a removal beyond the stored levels changes nothing in view
    assert books_advance({M: [_delta(6, 7, bids=[(40, 0)])]}, now=3, depth=3) == 1
    assert _stored()["sequence_id"] == 7
    # a side below the cap is whole: its removals are exact
    assert books_advance({M: [_delta(7, 8, asks=[(52, 0)])]}, now=4, depth=3) == 1
    assert _stored() == {"sequence_id": 8, "bids": [[51, 7], [50, 10], [49, 10]], "asks": []}


def test_a_book_is_never_written_over_a_newer_one(redis_conn):
    state.push_book_write(M, {"sequence_id": 20, "bids": [[45, 1]], "asks": []}, now=1)
    assert not state.push_book_write(M, {"sequence_id": 19, "bids": [[44, 9]], "asks": []}, now=2)
    assert _stored() == {"sequence_id": 20, "bids": [[45, 1]], "asks": []}
    assert state.push_book_write(M, {"sequence_id": 20, "bids": [[45, 1]], "asks": []}, now=3)  # the same book
    assert state.push_book_write(M, {"sequence_id": 21, "bids": [], "asks": [[60, 2]]}, now=4)
    assert _stored() == {"sequence_id": 21, "bids": [], "asks": [[60, 2]]}
    redis_conn.set(f"amm:pushbook:{M}", '{"sequence_id": 30, "ms": 1, "bids": [], "asks": []}')  # the plain form
    assert state.push_books_write({M: {"sequence_id": 29, "bids": [], "asks": []}}, now=5) == 0
