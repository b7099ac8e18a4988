"""Fills counted once across duplicates and restarts, the daily reset, config hot reload,
and a market taken over after its worker died (issue 6), with real workers and Redis."""
from __future__ import annotations

import time

import pytest

from amm import state
from amm.runtime.context import context, context_reset
from amm.runtime.cycle import quote_cycle
from amm.runtime.lease import market_lease
from amm.services import config_update
from tests.amm.runtime.support import _stop_deadman_sweeper, rt, wait_until  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def _inventory_matches(rt) -> bool:
    pos = rt.position()
    inv = state.inventory_get(rt.market_id)
    return pos is not None and (inv.yes_volume, inv.no_volume, inv.yes_cost_sum_cents, inv.no_cost_sum_cents) == (
        pos.yes_volume, pos.no_volume, pos.yes_cost_sum, pos.no_cost_sum)


def test_a_fill_delivered_twice_or_after_a_restart_is_counted_once(rt, redis_conn):
    rt.start()
    quote_cycle(rt.market_id)
    for side in ("YES", "NO"):
        assert rt.take(side, 3)
    context().feed.poll()
    assert _inventory_matches(rt)
    fills = int(state.state_get(rt.market_id)["total_fills_today"])
    assert fills >= 2

    redis_conn.set(state.TRADE_CURSOR, 0)  # the feed delivers every fill again
    assert context().feed.poll().applied == 0
    context_reset()  # a restarted worker: no in-process memory of trade ids
    assert context().feed.poll().applied == 0
    assert _inventory_matches(rt)
    assert int(state.state_get(rt.market_id)["total_fills_today"]) == fills

    # Restart: run_amm's startup sync of a RUNNING market rebuilds Redis from the platform.
    from amm.runtime.startup import market_start

    assert rt.take("YES", 2)
    context_reset()
    assert market_start(rt.market_id) == "RUNNING"
    assert context().feed.poll().applied == 0
    assert _inventory_matches(rt)


def test_daily_reset_runs_once_at_local_midnight(rt):
    import datetime as dt

    from amm.runtime import daily

    rt.start()
    m = rt.market_id
    today = daily.local_day()
    yesterday = (dt.date.fromisoformat(today) - dt.timedelta(days=1)).isoformat()
    assert daily.daily_reset(yesterday) is False  # the first day this Redis sees is only recorded
    state.state_update(m, daily_pnl_cents=-1234, total_fills_today=7)
    rt.run(workers=1)  # the scheduler notices the local date moved on and enqueues the reset
    wait_until(lambda: state.state_get(m)["daily_pnl_cents"] == 0 and state.state_get(m)["total_fills_today"] == 0,
               timeout=8, message="counters reset by the daily job")
    assert state.daily_reset_day() == today
    state.state_update(m, total_fills_today=3)
    assert daily.daily_reset(today) is False  # once per day
    assert state.state_get(m)["total_fills_today"] == 3


def test_config_hot_reload_is_noticed_by_the_running_loop(rt):
    m = rt.market_id
    rt.start()
    rt.run(workers=2)
    wait_until(rt.quoting, timeout=15, message="quoting")
    config_update(market_id=m, actor="test", order_size=7, order_levels=3)
    wait_until(lambda: rt.quoting() and len(rt.open_orders()) == 6 and max(rt.open_orders().values()) <= 7,
               timeout=10, message="quotes resized to the new config")


def test_a_market_whose_worker_died_is_taken_over_after_the_lease_expires(rt, settings):
    settings.AMM_LEASE_TTL_MS = 600
    rt.start()
    dead = market_lease(rt.market_id, ttl_ms=600)
    assert dead.acquire()  # a worker that took the market and died: nobody renews its lease
    assert quote_cycle(rt.market_id, wait_ms=0).outcome == "busy"
    started = time.monotonic()
    rt.run(workers=1)
    wait_until(rt.quoting, timeout=10, message="another worker quoting the market")
    assert time.monotonic() - started < 5
    assert dead.renew() is False  # fenced out


def test_the_config_reload_job_republishes_a_config_redis_lost(rt, redis_conn):
    """One job serves every driven market: a config gone from Redis is published again from
    the database; only the markets whose version moved are read again."""
    from amm import jobs

    other = rt.new_market()
    rt.start(rt.market_id, other)
    redis_conn.delete(f"amm:config:{other}")
    jobs.config_reload([rt.market_id, other])
    assert state.config_version(other) is not None
    assert state.config_get(other)["requote_interval_ms"] == "300"

    from amm.runtime.config_refresh import config_reload_many

    assert config_reload_many([rt.market_id, other]) == []  # this worker holds both versions: nothing read
    config_update(market_id=other, actor="test", order_size=7)
    assert config_reload_many([rt.market_id, other]) == [other]
    assert context().configs[other][1].order_size == 7


def _trade_polls(ctx) -> list[float]:
    seen: list[float] = []
    ctx.connector._http.event_hooks["request"].append(
        lambda request: seen.append(time.monotonic()) if request.url.path.endswith("/trades") else None)
    return seen


def test_the_feed_long_polls_and_a_fill_that_commits_meanwhile_is_applied_and_requoted(rt):
    """Between status watches the feed waits on the platform for the next trade instead of
    asking again and again (the platform's wake-up is tests/exchange/api/test_trades.py's);
    a fill committed during a wait is applied and its market's cycle requested."""
    import threading

    from amm.runtime.feed import feed_loop

    rt.start()
    quote_cycle(rt.market_id)
    ctx = context()
    polls = _trade_polls(ctx)
    counters = feed_loop(window_ms=900, ctx=ctx)
    assert counters["errors"] == 0 and 3 <= len(polls) <= 8, polls  # ~one per status watch (300 ms)

    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(feed_loop(window_ms=1500)))
    thread.start()  # its own context: this thread's stays out of its way
    time.sleep(0.2)
    assert rt.take("YES", 2)
    wait_until(lambda: state.job_marker(f"quote:{rt.market_id}"), timeout=2, message="the fill's cycle requested")
    thread.join(timeout=5)
    assert result["fills"] == 1 and _inventory_matches(rt)


def test_the_feed_paces_a_platform_that_answers_at_once(rt, settings):
    """A platform that does not hold answers (wait_ms unknown to it) is polled every
    AMM_FILL_POLL_INTERVAL_MS, not in a tight loop."""
    import httpx

    from amm.connector import connector_from_settings
    from amm.runtime.context import RuntimeContext
    from amm.runtime.feed import feed_loop

    class NoHold(httpx.HTTPTransport):
        def handle_request(self, request):
            params = [(k, v) for k, v in request.url.params.multi_items() if k != "wait_ms"]
            request.url = request.url.copy_with(params=params)
            return super().handle_request(request)

    rt.start()
    settings.AMM_FILL_POLL_INTERVAL_MS = 50
    ctx = RuntimeContext(connector=connector_from_settings(transport=NoHold(), headers={"Connection": "close"}))
    polls = _trade_polls(ctx)
    feed_loop(window_ms=1000, ctx=ctx)
    ctx.close()
    assert 8 <= len(polls) <= 25, len(polls)  # ~1000 / 50, not hundreds


def test_a_working_state_of_another_platform_is_wiped_at_startup(rt, redis_conn):
    """Redis kept a trade cursor this platform has never written (another platform, a reset
    database): at startup every amm:* key is wiped but the caller's, an alert is raised,
    and the market is rebuilt; a cursor naming one of this platform's AMM trades is kept."""
    from amm.models import Alert, AlertType
    from amm.runtime.startup import working_state_check

    rt.start()
    quote_cycle(rt.market_id)
    assert rt.take("YES", 2)
    context().feed.poll()
    cursor = state.trade_cursor_get()
    assert cursor > 0 and working_state_check()  # this platform's: kept
    assert state.trade_cursor_get() == cursor

    redis_conn.set(state.TRADE_CURSOR, cursor + 1000)  # ahead of every trade: fills would be skipped
    redis_conn.set("amm:lease:scheduler", "mine")
    assert not working_state_check(keep=("amm:lease:scheduler",))
    assert redis_conn.get("amm:lease:scheduler") == "mine"
    assert [k for k in redis_conn.scan_iter("amm:*")] == ["amm:lease:scheduler"]
    assert Alert.objects.filter(type=AlertType.INVENTORY_DRIFT_CRITICAL, payload__source="startup").exists()
    assert state.trade_cursor_get() == 0


def test_the_reconciliation_lane_trims_the_processed_set(rt, redis_conn):
    from amm.runtime.reconcile_lane import reconcile_in_lane

    rt.start()
    key = f"amm:processed:{rt.market_id}"
    redis_conn.sadd(key, *range(1, 11))
    state.trade_cursor_advance(state.PROCESSED_KEEP_TRADES + 20)  # the feed is 100,000 trades past them
    assert reconcile_in_lane(rt.market_id) is not None
    assert not redis_conn.smembers(key) & {str(i) for i in range(1, 11)}


def test_reconciliation_runs_as_a_job_for_every_driven_market(rt, settings):
    from amm.models import ReconciliationRun

    settings.AMM_RECONCILE_INTERVAL_S = 1  # SPEC §8 says 5 minutes; the scheduler takes the setting
    rt.start()
    rt.run(workers=2)
    wait_until(lambda: ReconciliationRun.objects.filter(market_id=rt.market_id).count() >= 2, timeout=20,
               message="two reconciliation runs recorded by the workers")
    assert not ReconciliationRun.objects.filter(market_id=rt.market_id, verdict="CRITICAL").exists()


def test_a_failed_startup_sync_stops_the_market_with_an_alert(rt, settings):
    from amm.models import Alert, AlertType
    from amm.runtime.startup import market_start
    from tests.amm.runtime.harness import FaultProxy

    with FaultProxy(rt.url) as proxy:
        proxy.configure(fail_before=1.0, match=r"^GET /api/v1/positions/")  # the platform cannot answer the sync
        settings.AMM_PLATFORM_BASE_URL = proxy.url
        context_reset()
        assert market_start(rt.market_id) == "STOPPED"
    assert rt.instance().lifecycle_state == "STOPPED"
    assert Alert.objects.filter(type=AlertType.SYNC_FAILED, market_id=rt.market_id).exists()
    assert rt.open_orders() == {}
