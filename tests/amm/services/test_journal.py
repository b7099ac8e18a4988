"""Order history: journaled on the hot path, flushed to AMMOrder in batches, idempotently."""
from __future__ import annotations

import pytest

from amm import state
from amm.models import AMMOrder
from amm.services import order_journal_flush
from amm.state import FillLeg
from tests.amm.conftest import seed_market

pytestmark = pytest.mark.django_db

M = "MKT-J"


def place(oid, qty=10, status="OPEN", track=True, side="YES", direction="BUY", book_type="NATIVE_BUY"):
    state.order_track(M, order_id=oid, side=side, direction=direction, price=40, qty=qty, book_type=book_type,
                      created_ms=1_000, client_order_id=f"amm_{M}_{oid}", status=status, track=track)


def fill(trade_id, oid, qty, side="YES", direction="BUY", book_type="NATIVE_BUY"):
    state.fill_apply(M, trade_id=trade_id, legs=[FillLeg(oid, side, direction, 40, qty, 0, book_type)])


def states():
    return {o.order_id: (o.state, o.quantity, o.filled_quantity, o.remaining)
            for o in AMMOrder.objects.all()}


def test_events_become_rows_with_fsm_states(redis_conn):
    seed_market(M, cash=100_000)
    place("a")
    place("b")
    place("c")
    place("d", status="FILLED", track=False)  # filled on arrival: never tracked
    fill(1, "a", 4)
    fill(2, "b", 10)
    state.orders_untrack(M, ["a"], event="REPLACED")
    state.orders_untrack(M, ["c"], event="CANCELLED")
    fill(3, "d", 10)
    fill(4, "e", 2)  # a fill whose placement is journaled later
    place("e", qty=5)
    result = order_journal_flush()
    assert result.events == 11 and result.created == 5
    assert states() == {"a": ("REPLACED", 10, 4, 6), "b": ("FILLED", 10, 10, 0), "c": ("CANCELLED", 10, 0, 10),
                        "d": ("FILLED", 10, 10, 0), "e": ("PARTIALLY_ACTIVE", 5, 2, 3)}
    assert state.journal_length() == 0
    e = AMMOrder.objects.get(order_id="e")
    assert e.client_order_id == f"amm_{M}_e" and e.side == "YES" and e.price_cents == 40


def test_flush_is_idempotent_even_if_it_dies_before_deleting_the_stream(redis_conn, monkeypatch):
    seed_market(M, cash=100_000)
    place("a")
    fill(1, "a", 3)
    monkeypatch.setattr(state, "journal_ack", lambda ids, **kw: 0)  # commit, then "crash" before XDEL
    order_journal_flush()
    first = states()
    assert state.journal_length() == 2
    monkeypatch.undo()
    result = order_journal_flush()  # the same two events again
    assert result.skipped == 2 and result.applied == 0
    assert states() == first == {"a": ("PARTIALLY_ACTIVE", 10, 3, 7)}
    assert state.journal_length() == 0
    assert order_journal_flush().events == 0
    fill(2, "a", 7)
    order_journal_flush()
    assert states() == {"a": ("FILLED", 10, 10, 0)}


def test_the_hot_path_writes_no_row(redis_conn, django_assert_num_queries):
    seed_market(M, cash=100_000)
    with django_assert_num_queries(0):
        place("a")
        fill(1, "a", 3)
        state.orders_untrack(M, ["a"])
    assert AMMOrder.objects.count() == 0


def test_order_history_transitions_are_guarded():
    from django_fsm import TransitionNotAllowed

    row = AMMOrder(order_id="x", market_id=M, side="YES", direction="BUY", book_type="NATIVE_BUY", price_cents=40,
                   quantity=5)
    row.partially_fill()
    row.fill()
    for illegal in (row.cancel, row.replace, row.partially_fill, row.fill):
        with pytest.raises(TransitionNotAllowed):
            illegal()
    assert row.state == "FILLED" and row.remaining == 0


def test_a_flush_updates_each_existing_row_with_its_own_events(redis_conn):
    """Rows flushed earlier and changed by a later batch get their own values (one UPDATE per
    row, matched by order id), the journal id of their last event and a new updated_at."""
    seed_market(M, cash=1_000_000)
    ids = [f"o{i}" for i in range(12)]
    for oid in ids:
        place(oid)
    order_journal_flush()
    before = {o.order_id: (o.updated_at, o.journal_id) for o in AMMOrder.objects.all()}
    for i, oid in enumerate(ids[:8]):
        fill(100 + i, oid, 1 + i)  # 1..8 of 10 filled
    fill(200, ids[9], 10)  # fully
    state.orders_untrack(M, ids[10:11], event="CANCELLED")
    order_journal_flush()
    assert states() == {
        **{oid: ("PARTIALLY_ACTIVE", 10, 1 + i, 9 - i) for i, oid in enumerate(ids[:8])},
        ids[8]: ("ACTIVE", 10, 0, 10), ids[9]: ("FILLED", 10, 10, 0), ids[10]: ("CANCELLED", 10, 0, 10),
        ids[11]: ("ACTIVE", 10, 0, 10),
    }
    after = {o.order_id: (o.updated_at, o.journal_id) for o in AMMOrder.objects.all()}
    changed = {oid for oid in ids if after[oid] != before[oid]}
    assert changed == set(ids[:8]) | {ids[9], ids[10]}
    assert all(after[oid][0] > before[oid][0] and after[oid][1] != before[oid][1] for oid in changed)
    assert AMMOrder.objects.get(order_id=ids[3]).client_order_id == f"amm_{M}_{ids[3]}"  # untouched fields kept
