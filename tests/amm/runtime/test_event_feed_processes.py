"""A consumer of the event stream killed mid-batch (a real process, SIGKILL after it read
and partly applied a batch, before it acknowledged): another claims its pending events after
AMM_EVENTS_CLAIM_IDLE_MS, and no fill is counted twice."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from amm import state
from amm.runtime.context import context
from amm.runtime.cycle import quote_cycle
from amm.runtime.feed import feed_loop
from tests.amm.runtime import harness
from tests.amm.runtime.harness import ROOT, wait_until
from tests.amm.runtime.streams import STREAMS, pending, platform_trades
from tests.amm.runtime.support import _stop_deadman_sweeper, rt  # noqa: F401 - fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("amm_recovery")]


def _pending_all(redis_conn) -> int:
    return sum(pending(redis_conn, stream) for stream in STREAMS)



def test_a_consumer_killed_mid_batch_has_its_events_claimed_and_nothing_counted_twice(rt, redis_conn, settings,
                                                                                       tmp_path, outbox_relay):
    from django.conf import settings as django_settings

    settings.AMM_EVENTS_CATCHUP_MS = 600_000  # the stream alone: no REST catch-up to cover for it
    settings.AMM_EVENTS_CLAIM_IDLE_MS = 500
    rt.start()
    quote_cycle(rt.market_id)
    wait_until(lambda: redis_conn.exists("book_events"), timeout=15, message="the relay published the quotes")
    assert feed_loop(window_ms=200)["errors"] == 0  # the AMM's group exists, the stream is current
    log = tmp_path / "consumer.log"
    env = {**os.environ, "DATABASE_URL": harness.test_database_url(), "REDIS_URL": django_settings.REDIS_URL,
           "DJANGO_SETTINGS_MODULE": "tests.settings", "AMM_PLATFORM_BASE_URL": rt.url,
           "AMM_PLATFORM_API_KEY": rt.amm_key, "AMM_EVENTS_CLAIM_IDLE_MS": "500", "APPLY_FIRST": "1",
           "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.amm.runtime.stream_consumer_proc"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: "joined" in log.read_text(), timeout=30, message="the consumer joined the group")
        assert rt.take("YES", 2)  # published by the platform's relay (a real process)
        wait_until(lambda: "applied" in log.read_text(), timeout=15, message=log.read_text())
        read, applied = map(int, re.search(r"read (\d+) applied (\d+)", log.read_text()).groups())
        proc.kill()  # SIGKILL: read a batch, applied its first event, acknowledged nothing
        proc.wait(timeout=10)
        for side, qty in (("NO", 3), ("YES", 1)):
            assert rt.take(side, qty)
        trades = platform_trades(rt)
        assert len(trades) >= 3 and applied <= 1, log.read_text()
        assert _pending_all(redis_conn) == read

        stream_fills, deadline = 0, time.monotonic() + 20
        while time.monotonic() < deadline:  # claims them once they are idle 500 ms, reads the rest as published
            stream_fills += feed_loop(window_ms=500)["stream_fills"]
            if stream_fills >= len(trades) - applied and _pending_all(redis_conn) == 0:
                break

        assert stream_fills == len(trades) - applied
        assert _pending_all(redis_conn) == 0
        pos, inv = rt.position(), state.inventory_get(rt.market_id)
        assert (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (
            pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum)
        fills = [f["trade_id"] for _, f in redis_conn.xrange("amm:journal") if f.get("event") == "FILL"]
        assert sorted(fills) == sorted(str(t["id"]) for t in trades)  # each trade once
        assert context().events_current
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _quoting_on_the_stream(rt, redis_conn, settings):
    """The AMM quoting its market, the relay's first entries published and the stream taken up
    (no periodic REST catch-up: what the stream brings is the stream's); the runtime context."""
    settings.AMM_EVENTS_CATCHUP_MS = 600_000
    rt.start()
    quote_cycle(rt.market_id)
    wait_until(lambda: redis_conn.exists("book_events"), timeout=15, message="the relay published the quotes")
    assert feed_loop(window_ms=200)["errors"] == 0 and context().events_current
    return context()


def test_with_the_platforms_relay_the_stream_brings_every_fill_and_the_rest_feed_agrees(rt, redis_conn, settings,
                                                                                       outbox_relay):
    """End to end: the platform's outbox and relay (a real process) publish, the feed applies
    from the stream alone (no REST call for trades), and a fresh REST feed from cursor 0 finds
    the same trades, every one already applied."""
    from amm.runtime.context import RuntimeFillFeed

    ctx = _quoting_on_the_stream(rt, redis_conn, settings)
    trade_polls: list = []
    ctx.connector._http.event_hooks["request"].append(
        lambda request: trade_polls.append(1) if request.url.path.endswith("/trades") else None)
    for side, qty in (("YES", 2), ("NO", 3)):
        assert rt.take(side, qty)
    trades = platform_trades(rt)
    applied = 0
    deadline = time.monotonic() + 10
    while applied < len(trades) and time.monotonic() < deadline:
        applied += feed_loop(window_ms=300)["stream_fills"]
    assert applied == len(trades) and trade_polls == []
    redis_conn.set("amm:cursor:trades", 0)
    replay = RuntimeFillFeed(connector=ctx.connector).poll()
    assert replay.fetched == len(trades) and replay.applied == 0
    pos, inv = rt.position(), state.inventory_get(rt.market_id)
    assert (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (
        pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum)
    assert _pending_all(redis_conn) == 0


def test_with_the_platforms_relay_a_market_event_replaces_the_status_poll(rt, redis_conn, settings, outbox_relay):
    """A status change committed on the platform reaches the AMM through `market_events` (the
    relay, a real process): written to amm:market and the market's cycle requested, without
    one GET /markets while the stream is read."""
    from exchange.services import market_set_status

    settings.AMM_STATUS_POLL_MS = 100
    rt.start()
    quote_cycle(rt.market_id)
    wait_until(lambda: redis_conn.exists("book_events"), timeout=15, message="the relay published the quotes")
    assert feed_loop(window_ms=200)["errors"] == 0 and context().events_current
    status_reads: list = []
    context().connector._http.event_hooks["request"].append(
        lambda request: status_reads.append(1) if request.url.path.endswith("/markets") else None)
    state.job_done(f"quote:{rt.market_id}")
    market_set_status(market_id=rt.market_id, status="HALTED", actor="test")
    changes, deadline = 0, time.monotonic() + 10
    while not changes and time.monotonic() < deadline:
        changes += feed_loop(window_ms=300)["status_changes"]
    assert changes == 1 and status_reads == []
    assert state.market_meta_get(rt.market_id)["status"] == "HALTED"
    assert state.job_marker(f"quote:{rt.market_id}")


def test_with_the_platforms_relay_a_fills_book_deltas_bring_the_pushed_book_to_the_platforms(rt, redis_conn, settings,
                                                                                            outbox_relay):
    """The batch that brings a fill also brings its transaction's book delta: the feed moves the
    pushed book to the platform's book after the fill, before the requote it asks for, which
    then reads that book and no REST one (the WebSocket would bring the delta later)."""
    ctx = _quoting_on_the_stream(rt, redis_conn, settings)
    before = ctx.connector.orderbook_get(rt.market_id, depth=20)
    state.push_book_write(rt.market_id, {"sequence_id": before.sequence_id, "bids": before.bids, "asks": before.asks},
                          now=state.now_ms())  # as the WebSocket feed keeps it
    assert rt.take("YES", 3)
    applied, deadline = 0, time.monotonic() + 10
    while not applied and time.monotonic() < deadline:
        applied += feed_loop(window_ms=300)["stream_fills"]
    assert applied
    after = ctx.connector.orderbook_get(rt.market_id, depth=20)
    pushed = state.push_books_get([rt.market_id])[rt.market_id]
    assert after.sequence_id > before.sequence_id
    assert (pushed["sequence_id"], pushed["bids"], pushed["asks"]) == (
        after.sequence_id, [list(level) for level in after.bids], [list(level) for level in after.asks])

    book_reads: list = []
    ctx.connector._http.event_hooks["request"].append(
        lambda request: book_reads.append(1) if "/orderbook/" in request.url.path else None)
    state.push_book_alive(state.now_ms())
    result = quote_cycle(rt.market_id, reason="fill")
    assert result.outcome == "quoted" and book_reads == []
