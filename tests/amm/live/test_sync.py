"""Startup sync (seed §7.2 steps 1–2): Redis equals the platform's truth afterwards."""
from __future__ import annotations

import pytest

from amm import state
from amm.bookkeeping import FillFeed, place_result_record, privileged_record
from amm.bookkeeping.snapshot import market_sync
from amm.models import AMMInstance, AMMOrder
from amm.services import (
    instance_enable,
    instance_kill,
    instance_running,
    instance_start,
    market_startup_sync,
    order_journal_flush,
)
from exchange.models import Trade
from tests.amm.live.conftest import order
from tests.amm.live.helpers import assert_redis_is_platform, platform_truth

pytestmark = pytest.mark.django_db(transaction=True)


def test_startup_sync_equals_the_platform(platform):
    m = platform.market_id
    with platform.connector() as c:  # the AMM trades; Redis knows nothing of it
        c.amm_mint(market_id=m, quantity=100, request_id="m1")
        c.order_place(market_id=m, order=order("YES", "SELL", 60, 10))
        c.order_place(market_id=m, order=order("NO", "BUY", 45, 5))  # SYNTHETIC_SELL: holds cash
        c.order_place(market_id=m, order=order("NO", "SELL", 50, 7))  # SYNTHETIC_BUY (bid 50): holds NO shares
        platform.trader_order("YES", "BUY", 60, 4, tif="IOC")  # MINT at 55 with the AMM's NO bid
        instance_enable(market_id=m, budget_cents=400_000)
        instance_start(market_id=m, actor="ops")
        result = market_startup_sync(market_id=m, connector=c)
    assert result.snapshot.trades_quiet
    assert_redis_is_platform(m)
    inv = state.inventory_get(m)
    assert (inv.yes_available, inv.no_volume, inv.no_available) == (100 - 10, 104, 104 - 7)  # sells hold shares
    assert state.trade_cursor_get() == max(Trade.objects.values_list("id", flat=True))
    meta = state.market_meta_get(m)
    assert (meta["status"], meta["maker_fee_bps"], meta["taker_fee_bps"]) == ("ACTIVE", 20, 50)
    assert state.markets_kept() == {m}
    st = state.state_get(m)
    assert (st["phase"], st["defense_level"], st["kill_switch"], st["fair_price_cents"]) == (
        "EXPLORATION", "NORMAL", "OFF", 50)
    assert state.config_version(m) == 1
    order_journal_flush()  # the adopted orders reach the audit history
    history = {o.client_order_id: (o.state, o.quantity, o.filled_quantity, o.remaining)
               for o in AMMOrder.objects.filter(market_id=m)}
    assert sorted(history.values()) == [("ACTIVE", 7, 0, 7), ("ACTIVE", 10, 0, 10), ("PARTIALLY_ACTIVE", 5, 4, 1)]
    assert all(coid.startswith("amm_t_") for coid in history)
    instance_running(market_id=m)
    assert AMMInstance.objects.get(market_id=m).lifecycle_state == "RUNNING"


def test_resync_keeps_counters_and_takes_the_durable_kill_switch(platform):
    m = platform.market_id
    instance_enable(market_id=m)
    with platform.connector() as c:
        market_startup_sync(market_id=m, connector=c)
        state.state_update(m, total_fills_today=7)
        instance_start(market_id=m, actor="ops")
        instance_running(market_id=m)
        instance_kill(market_id=m, actor="ops", reason="drill")
        state.state_update(m, kill_switch="OFF")  # a stale Redis
        market_startup_sync(market_id=m, connector=c)
    assert state.state_get(m)["kill_switch"] == "ON" and state.state_get(m)["total_fills_today"] == 7


def test_sync_of_a_second_market_keeps_one_account_cash_everywhere(platform):
    first, second = platform.market_id, platform.new_market(taker_fee_bps=100)
    with platform.connector() as c:
        feed = FillFeed(connector=c)
        market_sync(market_id=first, connector=c, feed=feed)
        place_result_record(first, c.order_place(market_id=first, order=order("YES", "BUY", 30, 20)))
        assert privileged_record(second, c.amm_mint(market_id=second, quantity=10, request_id="m2"), kind="MINT")
        market_sync(market_id=second, connector=c, feed=feed)  # cash: total − what tracked orders hold
        place_result_record(second, c.order_place(market_id=second, order=order("NO", "BUY", 50, 4)))
    assert state.markets_kept() == {first, second}
    assert_redis_is_platform(first)
    assert_redis_is_platform(second)
    assert state.inventory_get(first).cash_cents == platform_truth(second)["cash_cents"]


def test_a_fill_landing_while_the_snapshot_is_checked_is_counted_once_in_the_cash(platform):
    """A taker fills an AMM ask just after the snapshot checked that no newer trade exists:
    the snapshot's cash must be the balance read inside the quiet window, so the fill the feed
    brings next is its only count (a balance read after the check counted it twice)."""
    m = platform.market_id
    with platform.connector() as c:
        feed = FillFeed(connector=c)
        c.amm_mint(market_id=m, quantity=20, request_id="m-race")
        market_sync(market_id=m, connector=c, feed=feed)
        place_result_record(m, c.order_place(market_id=m, order=order("YES", "SELL", 53, 10)))
        reads = []
        balance_get = c.balance_get

        def balance_with_a_fill_before_the_second_read():
            reads.append(1)
            if len(reads) == 2:  # after the trade check: the taker lifts the AMM's ask
                assert platform.trader_order("YES", "BUY", 53, 2, tif="IOC").trades
            return balance_get()

        c.balance_get = balance_with_a_fill_before_the_second_read
        snap = market_sync(market_id=m, connector=c, feed=feed).snapshot
        c.balance_get = balance_get
        assert len(reads) == 2 and snap.trades_quiet and not snap.account_quiet
        assert feed.poll().applied == 1
    assert_redis_is_platform(m)


def test_an_order_landing_between_the_position_and_order_reads_is_not_half_in_the_snapshot(platform):
    """An AMM sell lands on the platform after the snapshot read the position and before it
    read the open orders (a late call, or a holder fenced out mid-call): the pending sells
    and the orders would disagree, so the snapshot reads again before anything is rebuilt."""
    m = platform.market_id
    with platform.connector() as c:
        feed = FillFeed(connector=c)
        c.amm_mint(market_id=m, quantity=20, request_id="m-late")
        reads = []
        orders_open = c.orders_open

        def orders_open_after_a_late_sell(market_id):
            reads.append(1)
            if len(reads) == 1:
                c.order_place(market_id=m, order=order("NO", "SELL", 40, 7))
            return orders_open(market_id)

        c.orders_open = orders_open_after_a_late_sell
        result = market_sync(market_id=m, connector=c, feed=feed)
        c.orders_open = orders_open
    assert len(reads) == 2 and result.attempts == 2
    assert_redis_is_platform(m)
    assert state.inventory_get(m).no_available == 20 - 7
