"""DELTAs end to end, every part a real process: orders placed over REST on the ASGI server,
the outbox relay (`manage.py exchange_relay`) publishing `book_events` / `trade_events`, the
server's reader fanning them out, a `websockets` client rebuilding the book with the AMM's
`LocalOrderBook` (docs/push.md)."""
from __future__ import annotations

import asyncio
import json
import threading

import pytest

from amm.strategy.book import LocalOrderBook
from tests.exchange.push.conftest import feed, recv_json
from tests.ws_fixtures import AsgiServer, FrameDropProxy, killable_redis  # noqa: F401 (a fixture)

# One xdist worker runs the module, so its tests share one server process.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("exchange_push")]

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


def test_after_a_redis_restart_every_subscriber_is_resnapshotted_and_the_book_heals(make_trader, market,
                                                                                    relay_factory, killable_redis):
    redis_server = killable_redis
    server = AsgiServer(redis_url=redis_server.url).start()
    relay_factory(redis_url=redis_server.url).start()
    maker = make_trader()

    async def scenario():
        async with feed(f"{server.ws_url}/ws/v1/orderbook/{market}", maker.key) as ws:
            book = LocalOrderBook(market)
            book.apply_snapshot(await recv_json(ws))
            await asyncio.to_thread(maker.order, market, "YES", "BUY", 40, 10)
            before = await follow_book(ws, book, (await asyncio.to_thread(maker.book, market))["sequence_id"])
            await asyncio.to_thread(redis_server.restart)  # the streams and the server's reader lose everything
            await asyncio.to_thread(maker.order, market, "YES", "BUY", 42, 4)
            rest = await asyncio.to_thread(maker.book, market)
            after = await follow_book(ws, book, rest["sequence_id"])
            while not any(m["type"] == "SNAPSHOT" for m in after):  # the relay's replay may have healed it first
                after.append(message := await recv_json(ws))
                if message["type"] == "SNAPSHOT":
                    book.apply_snapshot(message)
            return before, after, book, rest

    try:
        before, after, book, rest = asyncio.run(scenario())
    finally:
        server.stop()
        server.cleanup()
    assert [m["type"] for m in before] == ["DELTA"]
    assert "SNAPSHOT" in [m["type"] for m in after]  # told to start over, not left silently behind
    assert book.to_dict() == {"market_id": market, "sequence_id": rest["sequence_id"], "bids": rest["bids"],
                              "asks": rest["asks"]}


def test_subscribers_joining_while_the_book_moves_miss_nothing(asgi, make_trader, market, relay_factory):
    """Clients connect while orders commit: each one's snapshot and the deltas sent after it
    chain without a gap (`follow_book` fails on one) and end equal to the REST book. (The
    relay's latency makes a snapshot-before-subscribe bug rare here, so this shows the joins
    consistent, not that ordering by itself; FeedSession.run subscribes before it reads.)"""
    relay_factory().start()
    maker = make_trader()
    stop = threading.Event()

    def churn() -> None:  # one book change after another: place, cancel, place, ...
        live, price = None, 30
        while not stop.is_set():
            if live is None:
                price = 30 + (price + 1) % 5
                live = maker.order(market, "YES", "BUY", price, 2)["order"]["id"]
            else:
                assert maker.http.delete(f"/orders/{live}").status_code == 200
                live = None

    async def scenario():
        settled = asyncio.get_running_loop().create_future()

        async def join(delay: float) -> LocalOrderBook:
            await asyncio.sleep(delay)
            async with feed(f"{asgi.ws_url}/ws/v1/orderbook/{market}", maker.key) as ws:
                book = LocalOrderBook(market)
                book.apply_snapshot(await recv_json(ws))
                await follow_book(ws, book, book.last_sequence_id + 1)  # moving when it joined
                await follow_book(ws, book, await settled)
                return book

        joins = [asyncio.create_task(join(0.15 * i)) for i in range(8)]
        await asyncio.sleep(0.15 * 8 + 0.5)
        stop.set()
        await asyncio.to_thread(mover.join, 30)
        rest = await asyncio.to_thread(maker.book, market)
        settled.set_result(rest["sequence_id"])
        return await asyncio.gather(*joins), rest

    mover = threading.Thread(target=churn, daemon=True)
    mover.start()
    try:
        books, rest = asyncio.run(scenario())
    finally:
        stop.set()
        mover.join(30)
    for book in books:
        assert book.to_dict() == {"market_id": market, "sequence_id": rest["sequence_id"], "bids": rest["bids"],
                                  "asks": rest["asks"]}
