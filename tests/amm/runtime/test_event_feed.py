"""The event stream as the AMM's primary feed (docs/push.md, issue 15): fills from
`trade_events` applied once and acknowledged after, market changes from `market_events`
instead of the status polling, the REST feed as the fallback and catch-up, and both paths
reconciled against each other and the platform. Real Redis streams, the platform over real
HTTP; entries are written in the contract's format from the platform's own trade bodies."""
from __future__ import annotations

import time

import httpx
import pytest

from amm import state
from amm.models import Alert, AlertType
from amm.runtime.context import RuntimeFillFeed, context
from amm.runtime.cycle import quote_cycle
from amm.runtime.feed import feed_loop
from exchange.services import market_set_status
from tests.amm.runtime.streams import make_streams, pending, platform_trades, publish, publish_trades
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _inventory_matches(rt) -> bool:
    pos = rt.position()
    inv = state.inventory_get(rt.market_id)
    return pos is not None and (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (
        pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum)


def _fill_events(redis_conn) -> list[str]:
    """The trade ids of the FILL events in the order journal (one per AMM leg applied)."""
    return [fields["trade_id"] for _, fields in redis_conn.xrange("amm:journal") if fields.get("event") == "FILL"]


def _requests(ctx, path_end: str) -> list[str]:
    seen: list[str] = []
    ctx.connector._http.event_hooks["request"].append(
        lambda request: seen.append(request.url.path) if request.url.path.endswith(path_end) else None)
    return seen


@pytest.fixture
def streamed(rt, redis_conn, settings):
    """The AMM quoting one market, the platform's streams present, the stream taken up (its
    first REST catch-up done) and no periodic catch-up: what the stream brings is the stream's."""
    settings.AMM_EVENTS_CATCHUP_MS = 600_000
    settings.AMM_EVENTS_CLAIM_IDLE_MS = 300
    rt.start()
    quote_cycle(rt.market_id)
    make_streams(redis_conn)
    counters = feed_loop(window_ms=300)
    assert counters["errors"] == 0 and context().events_current
    return rt


def test_an_amm_fill_from_the_stream_is_applied_once_acknowledged_and_requoted(streamed, redis_conn):
    rt = streamed
    assert rt.take("YES", 3) and rt.take("NO", 2)
    trades = platform_trades(rt)
    publish_trades(redis_conn, trades)
    publish_trades(redis_conn, trades[:1])  # at least once: the relay may publish one twice
    other = dict(trades[0], id=10**9, buy_user_id="someone", sell_user_id="someone-else")
    publish(redis_conn, "trade_events", type="trade", market_id=rt.market_id, data=other)  # not the AMM's
    redis_conn.xadd("trade_events", {"event_id": "x", "type": "trade", "data": "{"})  # breaks the contract
    state.job_done(f"quote:{rt.market_id}")
    polls = _requests(context(), "/trades")

    counters = feed_loop(window_ms=500)

    assert counters["stream_fills"] == len(trades) >= 2 and counters["events"] == len(trades) + 2
    assert polls == []  # no REST poll: the stream brought them
    assert _inventory_matches(rt)
    assert sorted(_fill_events(redis_conn)) == sorted(str(t["id"]) for t in trades)  # nothing twice
    assert pending(redis_conn) == 0  # everything acknowledged, the bad entry too
    assert state.job_marker(f"quote:{rt.market_id}")  # the fill's requote was requested
    assert state.trade_cursor_get() == max(t["id"] for t in trades)
    tape = state.runtime_cycle_read(rt.market_id).tape  # as a cycle reads it
    assert tape[0]["id"] == other["id"]  # the newest first; anyone's trades of the market
    assert {t["id"] for t in tape} == {t["id"] for t in trades} | {other["id"]}
    assert set(tape[0]) == {"id", "price_cents", "quantity", "executed_ms"}  # public: no user ids


def test_stream_and_rest_paths_reconcile(streamed, redis_conn, settings):
    """Fills the stream applied are duplicates to the REST feed, and the REST feed's to the
    stream: each trade counted once, the inventory the platform's."""
    rt = streamed
    ctx = context()
    assert rt.take("YES", 3)
    first = platform_trades(rt)
    publish_trades(redis_conn, first)
    assert feed_loop(window_ms=400)["stream_fills"] == len(first)
    rest = ctx.feed.poll()
    assert rest.fetched == 0 and rest.applied == 0  # the cursor moved with the stream's fills
    state_cursor = state.trade_cursor_get()
    redis_conn.set("amm:cursor:trades", 0)  # rewound: the REST feed sees every trade again
    replay = RuntimeFillFeed(connector=ctx.connector).poll()  # a fresh process's feed (empty LRU)
    assert replay.fetched == len(first) and replay.applied == 0 and replay.duplicates == len(first)
    assert state.trade_cursor_get() == state_cursor

    quote_cycle(rt.market_id)
    assert rt.take("NO", 4)
    assert ctx.feed.poll().applied >= 1  # the REST feed first this time
    every = platform_trades(rt)
    publish_trades(redis_conn, every)  # the stream brings all of them, late
    counters = feed_loop(window_ms=400)
    assert counters["stream_fills"] == 0 and counters["events"] == len(every)
    assert _inventory_matches(rt)
    assert sorted(_fill_events(redis_conn)) == sorted(str(t["id"]) for t in every)
    assert pending(redis_conn) == 0


def test_market_events_replace_the_status_polling_while_the_stream_is_read(streamed, redis_conn, settings):
    rt = streamed
    settings.AMM_STATUS_POLL_MS = 100
    ctx = context()
    status_reads = _requests(ctx, "/markets")
    before = int(state.market_meta_get(rt.market_id)["updated_at_ms"])
    feed_loop(window_ms=400)
    assert status_reads == []  # no GET /markets while the stream is read
    meta = state.market_meta_get(rt.market_id)
    assert int(meta["updated_at_ms"]) > before  # the statuses are vouched for: cycles need not GET the market

    market_set_status(market_id=rt.market_id, status="HALTED", actor="test")
    with httpx.Client(base_url=f"{rt.url}/api/v1", headers={"Authorization": f"Token {rt.amm_key}"}) as http:
        market = http.get(f"/markets/{rt.market_id}").json()  # the body a market event carries
    assert market["status"] == "HALTED"
    publish(redis_conn, "market_events", type="market", market_id=rt.market_id, data=market)
    publish(redis_conn, "book_events", type="book_delta", market_id=rt.market_id, sequence_id=market["sequence_id"] + 7,
            data={"market_id": rt.market_id, "prev_sequence_id": market["sequence_id"],
                  "sequence_id": market["sequence_id"] + 7, "bids": [], "asks": []})
    state.job_done(f"quote:{rt.market_id}")
    counters = feed_loop(window_ms=300)
    assert counters["status_changes"] == 1 and status_reads == []
    meta = state.market_meta_get(rt.market_id)
    assert meta["status"] == "HALTED" and meta["book_sequence_id"] == market["sequence_id"] + 7
    assert state.job_marker(f"quote:{rt.market_id}")  # the status change's cycle


def test_an_unreachable_stream_falls_back_to_rest_with_an_alert(rt, redis_conn, settings):
    settings.AMM_EVENTS_REDIS_URL = "redis://127.0.0.1:6429/0"  # nothing listens there
    settings.AMM_EVENTS_RETRY_MS = 60_000
    rt.start()
    quote_cycle(rt.market_id)
    ctx = context()
    polls = _requests(ctx, "/trades")
    assert rt.take("YES", 2)
    counters = feed_loop(window_ms=600, ctx=ctx)
    assert counters["fallbacks"] == 1 and counters["fills"] == 1 and polls  # REST applied it
    assert _inventory_matches(rt)
    alert = Alert.objects.get(type=AlertType.PUSH_FALLBACK)
    assert alert.payload["feed"] == "events" and "unreachable" in alert.payload["error"]


def test_a_stream_that_misses_fills_is_dropped_for_rest(rt, redis_conn, settings):
    """The stream is reachable but brings nothing (its relay stopped): the periodic REST
    catch-up finds a fill older than AMM_EVENTS_LAG_MS, the stream is dropped, an alert."""
    settings.AMM_EVENTS_CATCHUP_MS = 200
    settings.AMM_EVENTS_LAG_MS = 100
    settings.AMM_EVENTS_RETRY_MS = 60_000
    rt.start()
    quote_cycle(rt.market_id)
    make_streams(redis_conn)
    assert feed_loop(window_ms=100)["fallbacks"] == 0 and context().events_current
    assert rt.take("YES", 2)
    time.sleep(0.3)  # older than the lag allowed
    counters = feed_loop(window_ms=600)
    assert counters["catchup_fills"] == 1 and counters["fallbacks"] == 1 and not context().events_current
    assert _inventory_matches(rt)
    assert "did not bring" in Alert.objects.get(type=AlertType.PUSH_FALLBACK).payload["error"]


def test_a_platform_without_streams_is_polled_without_an_alert(rt, redis_conn):
    rt.start()
    quote_cycle(rt.market_id)
    assert rt.take("YES", 2)
    counters = feed_loop(window_ms=400)
    assert counters["fills"] == 1 and counters["fallbacks"] == 0 and counters["errors"] == 0
    assert not Alert.objects.filter(type=AlertType.PUSH_FALLBACK).exists()


def test_push_off_reads_no_stream(rt, redis_conn, settings):
    settings.AMM_PUSH = False
    make_streams(redis_conn)
    rt.start()
    assert context().events() is None
    feed_loop(window_ms=200)
    assert redis_conn.xinfo_groups("trade_events") == []
