"""The feeds' message making (exchange/push/feeds.py, auth.py): stream entries as the relay
writes them (docs/push.md) -> DELTAs; the handshake's credentials. Pure functions, no server."""
from __future__ import annotations

import json

import pytest

from exchange.push.auth import api_key_from_scope
from exchange.push.feeds import BookFeed, EventMalformed, TradesFeed


def entry(event_id: int, market: str, sequence_id: int, data: dict, ts_ms: int = 1000) -> dict[str, str]:
    return {"event_id": str(event_id), "type": "x", "market_id": market, "sequence_id": str(sequence_id),
            "ts_ms": str(ts_ms), "data": json.dumps(data)}


def trade(trade_id: int, sequence_id: int, event_id: int, qty: int = 1):
    return TradesFeed.event(entry(event_id, "M", sequence_id, {
        "id": trade_id, "market_id": "M", "price_cents": 55, "quantity": qty, "buy_user_id": "secret",
        "executed_at": "2026-12-07T04:00:00.123456Z"}))


def test_a_book_event_becomes_the_documented_delta():
    event = BookFeed.event(entry(7, "M", 44, {"market_id": "M", "prev_sequence_id": 41, "sequence_id": 44,
                                              "bids": [[45, 0], [46, 30]], "asks": []}, ts_ms=123))
    assert json.loads(event.body) == {"type": "DELTA", "market_id": "M", "prev_sequence_id": 41, "sequence_id": 44,
                                      "bids": [[45, 0], [46, 30]], "asks": [], "ts_ms": 123}
    assert BookFeed.deltas([event], 41) == [(44, event.body)]
    assert BookFeed.deltas([event], 44) == []  # already in the snapshot (or sent): not again


def test_a_trade_event_shows_only_the_public_fields():
    event = trade(9, 12, 1)
    assert event.body == {"id": 9, "price_cents": 55, "quantity": 1, "executed_ms": 1796616000123}


def test_one_transactions_trades_go_out_as_one_delta_chained_to_what_the_connection_had():
    events = [trade(1, 10, 1), trade(2, 10, 2), trade(3, 12, 3), trade(0, 8, 4)]  # the last one is old
    (first, one), (second, two) = TradesFeed.deltas(events, 9)
    one, two = json.loads(one), json.loads(two)
    assert (first, one["prev_sequence_id"], [t["id"] for t in one["trades"]]) == (10, 9, [2, 1])  # newest first
    assert (second, two["prev_sequence_id"], [t["id"] for t in two["trades"]]) == (12, 10, [3])
    assert TradesFeed.deltas(events, 12) == []


@pytest.mark.parametrize("fields", [
    {"event_id": "1", "market_id": "M", "sequence_id": "2", "data": "{not json"},
    {"event_id": "1", "market_id": "M", "sequence_id": "x", "data": "{}"},
    {"market_id": "M", "sequence_id": "2", "data": "{}"},
    {"event_id": "1", "market_id": "M", "sequence_id": "2", "data": '{"bids": []}'},  # no prev_sequence_id
])
def test_a_malformed_book_entry_is_refused_by_name(fields):
    with pytest.raises(EventMalformed):
        BookFeed.event(fields)


@pytest.mark.parametrize("scope, key", [
    ({"headers": [(b"authorization", b"Token abc")]}, "abc"),
    ({"headers": [(b"Authorization", b"token abc")], "query_string": b"token=other"}, "abc"),  # the header wins
    ({"headers": [], "query_string": b"token=xyz"}, "xyz"),
    ({"headers": [(b"authorization", b"Bearer abc")]}, None),
    ({"headers": [(b"authorization", b"Token a b")]}, None),
    ({"headers": [], "query_string": b"token=a&token=b"}, None),
    ({"headers": [], "query_string": b""}, None),
])
def test_the_key_comes_from_the_header_or_the_query(scope, key):
    assert api_key_from_scope(scope) == key
