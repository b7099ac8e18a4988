"""Writing the outbox (docs/push.md): the rows of one transaction's events, as ONE statement
that the clearing engine's flush sends with its other writes (`_write_together`), so the
events cost no extra round trip and commit, or roll back, with the change they describe.

The statement also sends `pg_notify('exchange_outbox', '')`, delivered at commit only: it
wakes the relay (exchange.events.relay) the moment the rows become visible."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection

from exchange.enums import OPEN_STATUSES, BookSide

NOTIFY_CHANNEL = "exchange_outbox"
TRADE_EVENTS, ORDER_EVENTS, MARKET_EVENTS, BOOK_EVENTS = "trade_events", "order_events", "market_events", "book_events"
STREAMS = (TRADE_EVENTS, ORDER_EVENTS, MARKET_EVENTS, BOOK_EVENTS)
STREAM_TYPES = {TRADE_EVENTS: "trade", ORDER_EVENTS: "order", MARKET_EVENTS: "market", BOOK_EVENTS: "book_delta"}

_OPEN = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"
_EVENT_COLUMNS = ["stream", "type", "market_id", "sequence_id", "data"]


@dataclass
class BookChange:
    """What one transaction did to a market's book: the sequence before and after it, and
    per touched YES-view level (book_side, yes_price) the remaining quantity this
    transaction's orders hold there after it (the other orders' share is summed in SQL)."""

    market_id: str
    prev_sequence_id: int
    sequence_id: int
    levels: dict[tuple[str, int], int] = field(default_factory=dict)
    touched_order_ids: list = field(default_factory=list)  # stored rows whose in-memory state replaces theirs


# The book delta's levels get their new TOTAL inside the transaction: the orders this
# transaction did not touch are summed from the table (the market lock makes them stable),
# those it touched come from memory, since the statement that writes them runs with this
# one and so is not visible to it (one snapshot per statement). On ix_orders_book.
_BOOK_DELTA_SQL = f"""
SELECT 'book_events'::varchar, 'book_delta'::varchar, %s::varchar, %s::bigint, (
    SELECT jsonb_build_object(
        'market_id', %s::text, 'prev_sequence_id', %s::bigint, 'sequence_id', %s::bigint,
        'bids', COALESCE(jsonb_agg(jsonb_build_array(l.price, l.qty) ORDER BY l.price DESC)
                         FILTER (WHERE l.side = '{BookSide.BID}'), '[]'::jsonb),
        'asks', COALESCE(jsonb_agg(jsonb_build_array(l.price, l.qty) ORDER BY l.price)
                         FILTER (WHERE l.side = '{BookSide.ASK}'), '[]'::jsonb))
    FROM (SELECT t.side, t.price, t.mine + COALESCE((
              SELECT SUM(o.quantity - o.filled_quantity) FROM orders o
              WHERE o.market_id = %s AND o.status IN {_OPEN} AND o.book_side = t.side AND o.yes_price = t.price
                AND NOT (o.id = ANY(%s::uuid[]))), 0) AS qty
          FROM json_to_recordset(%s::json) AS t(side text, price int, mine bigint)) AS l)
"""


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def outbox_insert(events: list[tuple[str, str, int, dict]], book: BookChange | None):
    """(sql, params) of the INSERT of `events` (stream, market_id, sequence_id, data), in
    list order, then the book delta when `book` is given; None when there is nothing."""
    if not events and book is None:
        return None
    rows = [{"stream": s, "type": STREAM_TYPES[s], "market_id": m, "sequence_id": q, "data": d} for s, m, q, d in events]
    parts, params = [], []
    if rows:
        parts.append(f"SELECT {', '.join(_EVENT_COLUMNS)} FROM json_populate_recordset(NULL::exchange_outbox, %s)")
        params.append(_dumps(rows))
    if book is not None:
        parts.append(_BOOK_DELTA_SQL)
        levels = [{"side": side, "price": price, "mine": mine} for (side, price), mine in sorted(book.levels.items())]
        params += [book.market_id, book.sequence_id, book.market_id, book.prev_sequence_id, book.sequence_id,
                   book.market_id, [str(i) for i in book.touched_order_ids], _dumps(levels)]
    columns = ", ".join(_EVENT_COLUMNS)
    sql = (f"INSERT INTO exchange_outbox ({columns}, created_at) "
           f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS)}, clock_timestamp() "
           f"FROM (SELECT pg_notify('{NOTIFY_CHANNEL}', '')) AS wake, ({' UNION ALL '.join(parts)}) "
           f"AS e ({columns})")
    return sql, params


def outbox_write(events: list[tuple[str, str, int, dict]]) -> None:
    """Insert `events` now, on the ORM's connection (so in the caller's transaction): for
    the changes made outside the clearing engine (market creation, schedule)."""
    statement = outbox_insert(events, None)
    if statement is not None:
        with connection.cursor() as cursor:
            cursor.execute(*statement)


def book_change(market_id: str, prev_sequence_id: int, sequence_id: int, orders) -> BookChange | None:
    """The book delta of a transaction that moved the market's sequence from
    `prev_sequence_id` to `sequence_id`, touching `orders` (in memory, after the change; the
    new ones among them not stored yet). None when the sequence did not move: the book did
    not change. A sequence move touching no level (an IOC order that found nothing) still
    gets its delta, empty, so that consumers' prev_sequence_id chain has no gap."""
    if sequence_id == prev_sequence_id:
        return None
    change = BookChange(market_id, prev_sequence_id, sequence_id)
    for order, is_new in orders:
        is_open = order.status in OPEN_STATUSES
        if is_new and not is_open:
            continue  # never rested: its level did not change
        key = (order.book_side, order.yes_price)
        change.levels[key] = change.levels.get(key, 0) + (order.remaining_quantity if is_open else 0)
        if not is_new:
            change.touched_order_ids.append(order.id)
    return change
