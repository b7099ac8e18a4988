"""DELTAs end to end, every part a real process: orders placed over REST on the ASGI server,
the outbox relay (`manage.py exchange_relay`) publishing `book_events` / `trade_events`, the
server's reader fanning them out, a `websockets` client rebuilding the book with the AMM's
`LocalOrderBook` (docs/push.md)."""
from __future__ import annotations

import asyncio
import json

import pytest

from amm.strategy.book import LocalOrderBook
from tests.exchange.push.conftest import feed, recv_json
from tests.ws_fixtures import FrameDropProxy

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_S = 30.0  # a relay process starting on a loaded 2-core machine


def trade_burst(maker, taker, market: str) -> None:
    """Resting orders on both sides, a cancel, and a taker crossing two levels (one fill each)."""
    maker.order(market, "YES", "BUY", 40, 10)
    maker.order(market, "YES", "BUY", 41, 20)
    maker.order(market, "NO", "BUY", 45, 5)  # YES-view ask at 55
    maker.order(market, "NO", "BUY", 44, 7)  # ask at 56
    gone = maker.order(market, "YES", "BUY", 39, 3)["order"]["id"]
    assert maker.http.delete(f"/orders/{gone}").status_code == 200
    taker.order(market, "YES", "BUY", 56, 8, tif="IOC")  # takes 5 at 55 and 3 at 56


async def follow_book(ws, book: LocalOrderBook, until_sequence: int, *, heal: bool = False) -> list[dict]:
    """Apply messages until the book reaches `until_sequence`; a gap asks for a resnapshot
    when `heal`, else fails. Returns the messages seen."""
    seen = []
    while book.last_sequence_id < until_sequence or book.stale:
        message = await recv_json(ws, WAIT_S)
        seen.append(message)
        if message["type"] == "SNAPSHOT":
            book.apply_snapshot(message)
        elif not book.apply_delta(message):
            assert heal, f"unexpected gap at {message}"
            await ws.send(json.dumps({"action": "resnapshot"}))
    return seen


def test_deltas_follow_rest_orders_in_order_and_rebuild_the_book(asgi, make_trader, market, relay_factory):
    relay_factory().start()
    maker, taker = make_trader(), make_trader()

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/orderbook/{market}", maker.key) as ws:
            book = LocalOrderBook(market)
            snapshot = await recv_json(ws)
            book.apply_snapshot(snapshot)
            await asyncio.to_thread(trade_burst, maker, taker, market)
            rest = await asyncio.to_thread(maker.book, market)
            return snapshot, await follow_book(ws, book, rest["sequence_id"]), book, rest

    snapshot, messages, book, rest = asyncio.run(scenario())
    assert snapshot["sequence_id"] == 0 and snapshot["bids"] == snapshot["asks"] == []
    assert [m["type"] for m in messages] == ["DELTA"] * len(messages) and len(messages) == 7  # one per transaction
    chain = [snapshot["sequence_id"]] + [m["sequence_id"] for m in messages]
    assert [m["prev_sequence_id"] for m in messages] == chain[:-1]  # in commit order, none missing
    assert book.bids == {int(p): q for p, q in rest["bids"]} and book.asks == {int(p): q for p, q in rest["asks"]}
    assert book.to_dict() == {"market_id": market, "sequence_id": rest["sequence_id"], "bids": rest["bids"],
                              "asks": rest["asks"]}


def test_trades_feed_delivers_each_trade_once_in_order(asgi, make_trader, market, relay_factory):
    relay_factory().start()
    maker, taker = make_trader(), make_trader()

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/trades/{market}", taker.key) as ws:
            snapshot = await recv_json(ws)
            await asyncio.to_thread(trade_burst, maker, taker, market)
            await asyncio.to_thread(taker.order, market, "YES", "BUY", 56, 2, "IOC")  # a third trade, later
            trades, deltas = [], []
            while len(trades) < 3:
                message = await recv_json(ws, WAIT_S)
                deltas.append(message)
                trades += reversed(message["trades"])  # each DELTA newest first
            return snapshot, deltas, trades

    snapshot, deltas, trades = asyncio.run(scenario())
    tape = taker.http.get(f"/orderbook/{market}", params={"trades": 100}).json()["recent_trades"]
    assert snapshot["trades"] == []
    assert trades == list(reversed(tape))  # the public tape, oldest first, each once
    assert [(t["price_cents"], t["quantity"]) for t in trades] == [(55, 5), (56, 3), (56, 2)]
    assert all(d["type"] == "DELTA" for d in deltas) and len(deltas) == 2  # one per transaction
    assert deltas[0]["prev_sequence_id"] == snapshot["sequence_id"]
    assert deltas[1]["prev_sequence_id"] == deltas[0]["sequence_id"] < deltas[1]["sequence_id"]


def test_a_dropped_delta_is_seen_as_a_gap_and_healed_by_a_resnapshot(asgi, make_trader, market, relay_factory):
    relay_factory().start()
    maker, taker = make_trader(), make_trader()
    deltas = iter(range(1, 1000))
    proxy = FrameDropProxy(asgi.port, drop=lambda text: '"DELTA"' in text and next(deltas) == 2).start()

    async def scenario():
        async with feed(f"{proxy.ws_url}/ws/v1/orderbook/{market}", maker.key, compression=None) as ws:
            book = LocalOrderBook(market)
            book.apply_snapshot(await recv_json(ws))
            await asyncio.to_thread(trade_burst, maker, taker, market)
            rest = await asyncio.to_thread(maker.book, market)
            return await follow_book(ws, book, rest["sequence_id"], heal=True), book, rest

    try:
        messages, book, rest = asyncio.run(scenario())
    finally:
        proxy.stop()
    assert len(proxy.dropped) == 1
    assert [m["type"] for m in messages].count("SNAPSHOT") == 1  # the gap was seen and asked to heal
    assert not book.stale
    assert book.to_dict() == {"market_id": market, "sequence_id": rest["sequence_id"], "bids": rest["bids"],
                              "asks": rest["asks"]}
