"""What the two feeds send (docs/push.md): a SNAPSHOT read from the selectors, and DELTAs
made from the platform's event streams (`book_events`, `trade_events`).

A stream entry is parsed once per server process into an `Event`; a book event's DELTA text
is serialized once there too and sent as is to every subscriber. A trades DELTA is built per
connection: its `prev_sequence_id` is the sequence that connection last sent (the book's
sequence moves without trades, so only the connection knows what came before)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from exchange.selectors import ORDERBOOK_DEPTH_MAX, RECENT_TRADES_MAX, orderbook_get

BOOK_STREAM = "book_events"
TRADE_STREAM = "trade_events"


class EventMalformed(ValueError):
    """A stream entry that does not follow docs/push.md (skipped and logged by the hub)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One stream entry, as the hub hands it to the sessions of its market."""

    event_id: int
    market_id: str
    sequence_id: int
    ts_ms: int
    body: Any  # book: the DELTA's text (shared by all subscribers); trades: the public trade


def _dumps(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _entry(fields: Mapping[str, str]) -> tuple[int, str, int, int, Any]:
    try:
        return (int(fields["event_id"]), fields["market_id"], int(fields["sequence_id"]),
                int(fields.get("ts_ms") or 0), json.loads(fields["data"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise EventMalformed(f"stream entry {dict(fields)!r}: {exc}") from None


def _levels(raw: Iterable) -> list[list[int]]:
    return [[int(price), int(qty)] for price, qty in raw or ()]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_ms(value: Any) -> int:
    """ISO time -> ms, rounded half up as the selectors' SQL rounds it (equal tapes on both paths)."""
    since = datetime.fromisoformat(str(value)) - _EPOCH
    micros = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds
    return (micros + 500) // 1000


class BookFeed:
    """`ws/v1/orderbook/{market_id}`: YES-view levels, each DELTA the levels one transaction changed."""

    stream = BOOK_STREAM

    @staticmethod
    def snapshot(market_id: str) -> tuple[int, str]:
        # Prices are 1..99, so the deepest read is the whole book: a delta never touches a
        # level the snapshot left out.
        book = orderbook_get(market_id=market_id, depth=ORDERBOOK_DEPTH_MAX)
        return book.sequence_id, _dumps({"type": "SNAPSHOT", "market_id": market_id, "sequence_id": book.sequence_id,
                                         "bids": book.bids, "asks": book.asks})

    @staticmethod
    def event(fields: Mapping[str, str]) -> Event:
        event_id, market_id, sequence_id, ts_ms, data = _entry(fields)
        try:
            text = _dumps({"type": "DELTA", "market_id": market_id, "prev_sequence_id": int(data["prev_sequence_id"]),
                           "sequence_id": sequence_id, "bids": _levels(data.get("bids")),
                           "asks": _levels(data.get("asks")), "ts_ms": ts_ms})
        except (KeyError, ValueError, TypeError) as exc:
            raise EventMalformed(f"book event {event_id}: {exc}") from None
        return Event(event_id, market_id, sequence_id, ts_ms, text)

    @staticmethod
    def deltas(events: list[Event], last: int) -> list[tuple[int, str]]:
        """(sequence_id, text) to send after `last`, in order; ones at or below it are already
        in what the connection has (its snapshot, or a repeat the relay published twice)."""
        out = []
        for event in events:
            if event.sequence_id > last:
                out.append((event.sequence_id, event.body))
                last = event.sequence_id
        return out


class TradesFeed:
    """`ws/v1/trades/{market_id}`: the public tape (the fields of the order book's `recent_trades`)."""

    stream = TRADE_STREAM

    @staticmethod
    def snapshot(market_id: str) -> tuple[int, str]:
        book = orderbook_get(market_id=market_id, depth=1, trades=RECENT_TRADES_MAX)
        return book.sequence_id, _dumps({"type": "SNAPSHOT", "market_id": market_id, "sequence_id": book.sequence_id,
                                         "trades": book.recent_trades})

    @staticmethod
    def event(fields: Mapping[str, str]) -> Event:
        event_id, market_id, sequence_id, ts_ms, data = _entry(fields)
        try:
            executed_ms = int(data["executed_ms"]) if "executed_ms" in data else _epoch_ms(data["executed_at"])
            public = {"id": int(data["id"]), "price_cents": int(data["price_cents"]), "quantity": int(data["quantity"]),
                      "executed_ms": executed_ms}
        except (KeyError, ValueError, TypeError) as exc:
            raise EventMalformed(f"trade event {event_id}: {exc}") from None
        return Event(event_id, market_id, sequence_id, ts_ms, public)

    @staticmethod
    def deltas(events: list[Event], last: int) -> list[tuple[int, str]]:
        """One DELTA per sequence_id above `last` (the trades of one transaction together),
        newest trade first as in the snapshot; chained by the connection's last sequence."""
        out = []
        group: list[Event] = []

        def flush() -> None:
            nonlocal last
            if group:
                seq = group[0].sequence_id
                out.append((seq, _dumps({"type": "DELTA", "market_id": group[0].market_id, "prev_sequence_id": last,
                                         "sequence_id": seq, "trades": [e.body for e in reversed(group)],
                                         "ts_ms": max(e.ts_ms for e in group)})))
                last = seq
                group.clear()

        for event in events:
            if event.sequence_id <= last or (group and event.sequence_id < group[0].sequence_id):
                continue
            if group and event.sequence_id != group[0].sequence_id:
                flush()
            group.append(event)
        flush()
        return out


FEEDS = {"orderbook": BookFeed, "trades": TradesFeed}
