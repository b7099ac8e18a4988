"""The WebSocket book feed on the AMM side (docs/push.md, issue 15): the platform's ASGI server
and its outbox relay as real processes, the AMM's BookFeed keeping each market's book in
Redis for the cycles; a dropped delta (a proxy that loses frames) is a gap healed by a
resnapshot; a book feed that cannot vouch for a market's book sends its cycles to the REST
book with an alert; a book move that leaves the AMM's quotes bettered requests a cycle."""
from __future__ import annotations

import gc
import json
import logging
import time
import uuid

import httpx
import pytest

from amm import state
from amm.enums import BookType, Direction, Side
from amm.models import Alert, AlertType
from amm.runtime import executor
from amm.runtime.book_feed import BookFeed
from amm.runtime.context import context
from amm.runtime.cycle import quote_cycle
from amm.runtime.feed import feed_loop
from amm.runtime.lease import market_lease
from amm.runtime.unique_jobs import get_queue
from amm.state.packing import push_book_value
from amm.strategy.types import DesiredQuote, Replacement
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures
from tests.ws_fixtures import FrameDropProxy, asgi_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("amm_push_ws")]


def _order(rt, *, side: str, direction: str, price: int, qty: int = 5) -> dict:
    with httpx.Client(base_url=f"{rt.url}/api/v1", timeout=10,
                      headers={"Authorization": f"Token {rt.trader_key}", "Connection": "close"}) as http:
        response = http.post("/orders", json={
            "market_id": rt.market_id, "client_order_id": uuid.uuid4().hex, "side": side, "direction": direction,
            "price_cents": price, "quantity": qty, "time_in_force": "GTC"})
    assert response.status_code in (200, 201), response.text
    return response.json()


def _pushed(redis_conn, market_id: str) -> dict | None:
    return push_book_value(redis_conn.get(f"amm:pushbook:{market_id}"))


def _same_as_platform(rt, redis_conn) -> bool:
    pushed, book = _pushed(redis_conn, rt.market_id), rt.book()
    return bool(pushed) and pushed["sequence_id"] == book["sequence_id"] and pushed["bids"] == book["bids"] and (
        pushed["asks"] == book["asks"])


def _book_reads(ctx) -> list[str]:
    seen: list[str] = []
    ctx.connector._http.event_hooks["request"].append(
        lambda request: seen.append(request.url.path) if "/orderbook/" in request.url.path else None)
    return seen


@pytest.fixture
def feed(rt, redis_conn, outbox_relay, asgi_server):
    """The AMM quoting one market, its book followed over the platform's WebSocket."""
    rt.start()
    quote_cycle(rt.market_id)
    feeds: list[BookFeed] = []

    def start(base_url: str = asgi_server.ws_url) -> BookFeed:
        book_feed = BookFeed(base_url=base_url, api_key=rt.amm_key).start()
        book_feed.set_markets([rt.market_id])
        feeds.append(book_feed)
        return book_feed

    yield start
    for book_feed in feeds:
        book_feed.stop()


def test_the_pushed_book_follows_the_platform_and_cycles_use_it_instead_of_rest(rt, redis_conn, feed):
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    _order(rt, side="YES", direction="BUY", price=5)  # deep in the book: a delta, no requote
    wait_until(lambda: _same_as_platform(rt, redis_conn) and [5, 5] in _pushed(redis_conn, rt.market_id)["bids"],
               timeout=10, message="the delta in Redis")
    assert book_feed.streams.counters["deltas"] >= 1 and book_feed.streams.counters["gaps"] == 0
    book_feed.beat()
    assert feed_loop(window_ms=100)["errors"] == 0  # the event stream read: the tape kept beside the book
    ctx = context()
    reads = _book_reads(ctx)
    result = quote_cycle(rt.market_id, reason="fill")  # a fill's cycle always read the REST book before
    assert result.outcome in ("quoted", "unchanged") and reads == []
    assert not Alert.objects.filter(type=AlertType.PUSH_FALLBACK).exists()

    book_feed.beat()
    feed_loop(window_ms=100)
    ahead = _pushed(redis_conn, rt.market_id)["sequence_id"] + 1000  # the stream told of a book not pushed yet
    state.market_meta_write(rt.market_id, {"book_sequence_id": ahead})
    quote_cycle(rt.market_id, reason="fill")
    assert len(reads) == 1  # the REST book, not the older pushed one


def test_a_dropped_delta_is_a_gap_healed_by_a_resnapshot(rt, redis_conn, feed, asgi_server):
    seen = {"deltas": 0}

    def drop_first_delta(text: str) -> bool:
        if json.loads(text).get("type") == "DELTA":
            seen["deltas"] += 1
            return seen["deltas"] == 1
        return False

    proxy = FrameDropProxy(asgi_server.port, drop_first_delta).start()
    try:
        book_feed = feed(proxy.ws_url)
        wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
        _order(rt, side="YES", direction="BUY", price=4)  # lost on the way
        _order(rt, side="YES", direction="BUY", price=3)  # its prev_sequence_id is not the book's: a gap
        wait_until(lambda: book_feed.streams.counters["gaps"] == 1, timeout=10, message="the gap seen")
        wait_until(lambda: _same_as_platform(rt, redis_conn) and [4, 5] in _pushed(redis_conn, rt.market_id)["bids"],
                   timeout=10, message="healed by a resnapshot")
        assert proxy.dropped and book_feed.streams.counters["snapshots"] >= 2
    finally:
        proxy.stop()


def test_a_book_feed_that_cannot_vouch_for_a_book_sends_cycles_to_rest_with_an_alert(rt, redis_conn, feed,
                                                                                     asgi_server):
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    book_feed.beat()
    asgi_server.stop()  # the WebSocket server goes away: the connection is lost
    wait_until(lambda: _pushed(redis_conn, rt.market_id) is None, timeout=10, message="the book dropped")
    book_feed.beat()  # the feed itself still runs
    assert feed_loop(window_ms=100)["errors"] == 0
    ctx = context()
    reads = _book_reads(ctx)
    result = quote_cycle(rt.market_id, reason="fill")
    assert result.outcome in ("quoted", "unchanged") and len(reads) == 1  # the REST book
    alert = Alert.objects.get(type=AlertType.PUSH_FALLBACK, market_id=rt.market_id)
    assert alert.payload == {"feed": "book", "state": "missing"}


def test_a_platform_without_websockets_leaves_the_rest_book_silently(rt, redis_conn):
    rt.start()
    book_feed = BookFeed(base_url=rt.url.replace("http://", "ws://"), api_key=rt.amm_key).start()
    try:
        book_feed.set_markets([rt.market_id])
        wait_until(lambda: book_feed.streams.counters["reconnects"] >= 1, timeout=10, message="refused")
        book_feed.beat()
        assert redis_conn.get("amm:pushbook:alive") is None  # never connected: no heartbeat
        reads = _book_reads(context())
        assert quote_cycle(rt.market_id).outcome == "quoted" and len(reads) == 1
        assert not Alert.objects.filter(type=AlertType.PUSH_FALLBACK).exists()
    finally:
        book_feed.stop()


def test_an_outside_order_bettering_the_amms_quote_requests_its_cycle_at_once(rt, redis_conn, feed):
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    own_bid = max(o.price for o in state.orders_get(rt.market_id).values() if o.side == "YES" and o.direction == "BUY")
    own_asks = [100 - o.price for o in state.orders_get(rt.market_id).values() if o.side == "NO" and o.direction == "BUY"]
    own_asks += [o.price for o in state.orders_get(rt.market_id).values() if o.side == "YES" and o.direction == "SELL"]
    assert own_bid + 1 < min(own_asks), "the AMM's spread leaves room inside"
    state.job_done(f"quote:{rt.market_id}")
    get_queue().empty()
    _order(rt, side="YES", direction="BUY", price=own_bid + 1)  # outbids the AMM
    wait_until(lambda: state.job_marker(f"quote:{rt.market_id}"), timeout=10, message="the book move's cycle")
    assert book_feed.requotes == 1
    if own_bid + 2 < min(own_asks):  # a burst: another move before the cycle ran is the same cycle
        _order(rt, side="YES", direction="BUY", price=own_bid + 2)
        wait_until(lambda: book_feed.requotes == 2, timeout=10, message="the second move seen")
    quotes = [job for job in get_queue().jobs if job.func_name == "amm.jobs.quote" and job.args[0] == rt.market_id]
    assert len(quotes) == 1 and quotes[0].args[1] == "book"


def test_without_the_event_stream_the_cycle_reads_the_rest_book_and_its_tape(rt, redis_conn, feed):
    """The pushed book comes with no tape of its own: the event-stream feed keeps the tapes;
    while it does not run, a cycle reads the REST book (which brings the tape)."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    book_feed.beat()
    reads = _book_reads(context())
    quote_cycle(rt.market_id, reason="fill")
    assert len(reads) == 1


def test_stopping_the_book_feed_closes_every_connection_without_an_abandoned_task(rt, redis_conn, feed, caplog):
    """A stop drops the markets (their tasks cancelled, still closing their WebSocket) and then
    the loop: every task is awaited first, so asyncio destroys none pending (it logged one
    error per market at every run_amm stop)."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        book_feed.stop()
        gc.collect()
    assert not book_feed.streams._thread.is_alive()
    # (another test's frame-dropping proxy, collected meanwhile, may log its own: not the feed's)
    abandoned = [r.getMessage() for r in caplog.records if "Task was destroyed but it is pending" in r.getMessage()
                 and "FrameDropProxy" not in r.getMessage()]
    assert not abandoned, abandoned


def _bids(redis_conn, market_id: str) -> list[list[int]]:
    return (_pushed(redis_conn, market_id) or {}).get("bids", [])


def _own_bids(market_id: str) -> list:
    return sorted((o for o in state.orders_get(market_id).values() if o.side == "YES" and o.direction == "BUY"),
                  key=lambda o: -o.price)


def _replace_bid(rt, old, price: int, *, during) -> None:
    """The AMM moves one of its bids through its own order call, under the market's lease;
    its answer is held 0.5 s on the way back after `during()` ran (a slow network: the
    platform committed, the AMM has not recorded it), so the book feed sees the delta first."""
    ctx = context()

    def held(response):
        if response.request.url.path.endswith("/amm/orders/replace"):
            during()
            time.sleep(0.5)

    ctx.connector._http.event_hooks["response"].append(held)
    lease = market_lease(rt.market_id)
    assert lease.acquire()
    try:
        quote = DesiredQuote(Side.YES, Direction.BUY, price, old.remaining, BookType.NATIVE_BUY, price)
        executor.replace(ctx, rt.market_id, [Replacement(old.order_id, quote)], now=state.now_ms())
    finally:
        lease.release()
        ctx.connector._http.event_hooks["response"].remove(held)


def test_the_amms_own_replace_is_not_taken_for_an_outside_book_move(rt, redis_conn, feed):
    """The delta of the AMM's own replace reaches the book feed before the AMM records its
    answer: its new, higher bid is not in `amm:orders` yet, and must not pass for an outside
    order bettering the old one (a requote of its own replace). Looked at again once the
    answer is recorded: nothing moved outside, so no cycle."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    top = _own_bids(rt.market_id)[0]
    own_asks = [100 - o.price for o in state.orders_get(rt.market_id).values() if o.side == "NO" and o.direction == "BUY"]
    own_asks += [o.price for o in state.orders_get(rt.market_id).values() if o.side == "YES" and o.direction == "SELL"]
    assert top.price + 1 < min(own_asks), "the AMM's spread leaves room inside"
    _replace_bid(rt, top, top.price + 1, during=lambda: wait_until(
        lambda: [top.price + 1, top.remaining] in _bids(redis_conn, rt.market_id), timeout=10,
        message="the replace's delta in the pushed book while its answer is on its way"))
    time.sleep(0.3)  # the rechecks after the answer was recorded
    assert book_feed.deferred >= 1, "the delta came while the call was in flight"
    assert book_feed.requotes == 0


def test_an_outside_move_during_the_amms_order_call_is_not_lost(rt, redis_conn, feed):
    """An outside bid bettering the AMM's arrives while an order call of the AMM is in flight:
    the feed cannot tell it from the AMM's own orders then, and looks again once the answer
    is recorded, which finds the move and requests the cycle."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    top, deeper = _own_bids(rt.market_id)[:2]
    own_asks = [100 - o.price for o in state.orders_get(rt.market_id).values() if o.side == "NO" and o.direction == "BUY"]
    own_asks += [o.price for o in state.orders_get(rt.market_id).values() if o.side == "YES" and o.direction == "SELL"]
    assert top.price + 1 < min(own_asks), "the AMM's spread leaves room inside"

    def outbid() -> None:
        _order(rt, side="YES", direction="BUY", price=top.price + 1, qty=1)
        wait_until(lambda: [top.price + 1, 1] in _bids(redis_conn, rt.market_id), timeout=10,
                   message="the outside bid in the pushed book while the AMM's answer is on its way")
        assert book_feed.requotes == 0

    _replace_bid(rt, deeper, deeper.price - 1, during=outbid)  # the AMM steps back one level deeper
    wait_until(lambda: book_feed.requotes == 1, timeout=5, message="the move found once the answer was recorded")
    assert book_feed.deferred >= 1


def test_a_pushed_book_older_than_the_amms_own_last_replace_is_not_used(rt, redis_conn, feed):
    """The replace's answer tells the book's sequence it made (`own_sequence_id` of
    amm:runtime). A pushed book older than that still shows the orders the replace took away,
    which the cycle would take for outside ones (the AMM's old bid above its new one): the
    cycle reads the REST book instead, even while the event stream has not told of the newer
    book yet."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    before = _pushed(redis_conn, rt.market_id)
    top = _own_bids(rt.market_id)[0]
    _replace_bid(rt, top, top.price - 1, during=lambda: None)  # the AMM steps its top bid back
    own = state.runtime_get(rt.market_id)["own_sequence_id"]
    assert own == rt.book()["sequence_id"] > before["sequence_id"]
    wait_until(lambda: _pushed(redis_conn, rt.market_id)["sequence_id"] == own, timeout=10,
               message="the replace's delta in the pushed book")

    state.push_book_drop([rt.market_id])  # a newer book is never written over: the WebSocket's a frame late
    state.push_book_write(rt.market_id, before, now=state.now_ms())
    state.market_push_refresh([], {}, now=state.now_ms())  # the event stream read, the replace not told yet
    book_feed.beat()
    assert int(state.quote_cycle_read(rt.market_id).market.get("book_sequence_id") or 0) < own
    reads = _book_reads(context())
    quote_cycle(rt.market_id, reason="book")
    assert len(reads) == 1  # the REST book, not the one showing the AMM's old bid


def _a_frame_late(redis_conn, book_feed, market_id: str, book: dict) -> None:
    """The pushed book set back to `book` (the WebSocket a frame late), the event stream read
    without telling of anything newer."""
    state.push_book_drop([market_id])  # a newer book is never written over
    state.push_book_write(market_id, book, now=state.now_ms())
    state.market_push_refresh([], {}, now=state.now_ms())
    book_feed.beat()


def test_after_a_resync_that_changed_the_amms_orders_its_cycle_reads_the_platforms_book(rt, redis_conn, feed):
    """A re-sync re-reads the AMM's orders (GET /orders), an answer that tells no book
    sequence. A pushed book from before it may still show an order the platform cancelled
    behind the AMM's back, which the cycle would take for an outside bid. The cycle that
    re-synced reads the REST book and keeps that book's sequence as `own_sequence_id`; the
    next one uses the pushed book again."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    before = _pushed(redis_conn, rt.market_id)
    top = _own_bids(rt.market_id)[0]
    with httpx.Client(base_url=f"{rt.url}/api/v1", timeout=10, headers={"Authorization": f"Token {rt.amm_key}"}) as http:
        assert http.delete(f"/orders/{top.order_id}").status_code == 200  # not through the AMM's order calls
    cancelled_at = rt.book()["sequence_id"]
    wait_until(lambda: _pushed(redis_conn, rt.market_id)["sequence_id"] == cancelled_at, timeout=10,
               message="the cancel's delta in the pushed book")
    _a_frame_late(redis_conn, book_feed, rt.market_id, before)  # still shows the cancelled bid
    state.resync_request([rt.market_id], reason="the operator cancelled an order")

    reads = _book_reads(context())
    quote_cycle(rt.market_id, reason="tick")
    assert top.order_id not in state.orders_get(rt.market_id)  # released by the re-sync
    assert len(reads) == 1  # the REST book, not the one showing the cancelled bid as someone else's
    own = state.runtime_get(rt.market_id)["own_sequence_id"]
    assert own >= cancelled_at  # that book's, or a replace's after it

    wait_until(lambda: _pushed(redis_conn, rt.market_id)["sequence_id"] >= rt.book()["sequence_id"], timeout=10,
               message="the pushed book caught up")
    book_feed.beat()
    quote_cycle(rt.market_id, reason="tick")
    assert len(reads) == 1  # the pushed book again


def test_after_a_cancel_all_the_next_cycle_reads_the_platforms_book(rt, redis_conn, feed):
    """A cancel-all's answer tells no book sequence either: `own_sequence_id` becomes unknown,
    and the next cycle reads the REST book (a pushed book from before the cancel-all shows the
    AMM's cancelled orders as outside ones) and keeps its sequence."""
    book_feed = feed()
    wait_until(lambda: _same_as_platform(rt, redis_conn), timeout=15, message="the snapshot in Redis")
    before = _pushed(redis_conn, rt.market_id)
    lease = market_lease(rt.market_id)
    assert lease.acquire()
    try:
        assert executor.cancel_all(context(), rt.market_id) > 0
    finally:
        lease.release()
    assert state.runtime_get(rt.market_id)["own_sequence_id"] == state.OWN_SEQUENCE_UNKNOWN
    cancelled_at = rt.book()["sequence_id"]
    _a_frame_late(redis_conn, book_feed, rt.market_id, before)

    reads = _book_reads(context())
    quote_cycle(rt.market_id, reason="tick")
    assert len(reads) == 1
    assert state.runtime_get(rt.market_id)["own_sequence_id"] >= cancelled_at
