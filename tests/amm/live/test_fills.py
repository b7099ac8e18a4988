"""The fill feed over real HTTP: every scenario, self-trades, taker fills, exactly once across
repeated pages, restarts and a lost cursor; Redis ends equal to the platform's truth."""
from __future__ import annotations

import pytest

from amm import state
from amm.bookkeeping import FillFeed, cancel_all_record, cancel_record, place_result_record, privileged_record
from amm.bookkeeping.snapshot import market_sync
from amm.connector import TradesPage
from amm.state import keys as K
from exchange.models import Trade
from tests.amm.live.conftest import order
from tests.amm.live.helpers import assert_redis_is_platform, platform_truth, redis_view

pytestmark = pytest.mark.django_db(transaction=True)


def place(c, m, *args):
    result = c.order_place(market_id=m, order=order(*args))
    place_result_record(m, result)
    return result.order


def test_fills_of_every_scenario_match_the_platform(platform):
    m = platform.market_id
    with platform.connector() as c:
        feed = FillFeed(connector=c)
        market_sync(market_id=m, connector=c, feed=feed)
        privileged_record(m, c.amm_mint(market_id=m, quantity=50, request_id="mint-50"), kind="MINT")

        place(c, m, "YES", "BUY", 40, 10)  # NATIVE_BUY, bid 40
        platform.trader_order("NO", "BUY", 60, 4, tif="IOC")  # ask 40: MINT, AMM buys 4 YES @ 40
        place(c, m, "YES", "SELL", 62, 10)  # NATIVE_SELL, ask 62
        t2 = platform.trader2_id  # holds only YES (a trader holding both would be netted)
        platform.trader_order("YES", "BUY", 62, 3, tif="IOC", trader=t2)  # TRANSFER_YES, AMM sells 3 YES
        sell_no = place(c, m, "NO", "SELL", 45, 10)  # SYNTHETIC_BUY, bid 55
        platform.trader_order("NO", "BUY", 45, 2, tif="IOC")  # TRANSFER_NO, AMM sells 2 NO
        platform.trader_order("YES", "SELL", 55, 2, tif="IOC", trader=t2)  # BURN: AMM sells 2 NO, t2 2 YES
        place(c, m, "NO", "BUY", 35, 6)  # SYNTHETIC_SELL, ask 65
        platform.trader_order("YES", "BUY", 65, 1, tif="IOC", trader=t2)  # MINT, AMM buys 1 NO

        assert feed.poll().applied == 5
        assert {t.scenario for t in Trade.objects.filter(market_id=m)} == {"MINT", "TRANSFER_YES", "TRANSFER_NO",
                                                                         "BURN"}
        assert_redis_is_platform(m)
        assert state.orders_get(m)[sell_no.id].remaining == 6

        # Cancel-all releases everything the orders held.
        cancel_all_record(m, c.orders_cancel_all(m))
        assert state.orders_get(m) == {}
        assert_redis_is_platform(m)

        # The AMM as taker: its order trades on arrival (taker fee), the rest rests.
        platform.trader_order("YES", "SELL", 38, 2, trader=t2)  # ask 38 rests
        taker = place(c, m, "YES", "BUY", 39, 5)  # takes 2 @ 38, rests 3 @ 39
        assert taker.status == "PARTIALLY_FILLED"
        assert state.orders_get(m)[taker.id].remaining == 5  # until the feed brings the fill
        feed.poll()
        assert state.orders_get(m)[taker.id].remaining == 3
        assert_redis_is_platform(m)

        # The AMM trading with itself: both legs are applied.
        ask = place(c, m, "YES", "SELL", 62, 4)
        place(c, m, "YES", "BUY", 62, 2)  # crosses its own ask
        self_trade = Trade.objects.filter(market_id=m).latest("id")
        assert self_trade.buy_user_id == self_trade.sell_user_id
        feed.poll()
        assert_redis_is_platform(m)

        # A cancel releases what the order held.
        cancel_record(m, [c.order_cancel(ask.id).id])
        assert_redis_is_platform(m)
    assert state.state_get(m)["total_fills_today"] == Trade.objects.filter(market_id=m).count()


class RepeatingConnector:
    """Wraps a connector so that the trade feed answers every page twice and re-sends old trades."""

    def __init__(self, inner):
        self.inner = inner
        self.pages = 0

    def trades_list(self, *, since=0, market_id=None, limit=None):
        self.pages += 1
        page = self.inner.trades_list(since=max(0, since - 3), market_id=market_id, limit=limit)  # overlap
        return TradesPage(results=page.results + page.results, next_since=page.next_since)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_fills_counted_once_across_repeats_restarts_and_a_lost_cursor(platform, redis_conn):
    m = platform.market_id
    with platform.connector() as c:
        feed = FillFeed(connector=c)
        market_sync(market_id=m, connector=c, feed=feed)
        privileged_record(m, c.amm_mint(market_id=m, quantity=40, request_id="mint-40"), kind="MINT")
        place(c, m, "YES", "SELL", 60, 20)
        place(c, m, "YES", "BUY", 40, 20)
        for _ in range(3):
            platform.trader_order("YES", "BUY", 60, 2, tif="IOC")
            platform.trader_order("NO", "BUY", 60, 1, tif="IOC")
        assert feed.poll().applied == 6
        truth = platform_truth(m)
        assert redis_view(m) == truth

        # the same pages again, overlapping and duplicated: nothing changes
        noisy = FillFeed(connector=RepeatingConnector(c), processed=feed.processed)
        result = noisy.poll()
        assert result.applied == 0 and result.duplicates > 0
        assert redis_view(m) == truth

        # trades happen while the AMM is down; a new process (new connector, empty LRU) polls
        for _ in range(2):
            platform.trader_order("YES", "BUY", 60, 1, tif="IOC")
    with platform.connector() as restarted:
        fresh = FillFeed(connector=restarted)
        assert fresh.poll().applied == 2
        assert fresh.poll().applied == 0
        assert_redis_is_platform(m)

        # the cursor is lost (e.g. deleted by hand): the feed starts over, amm:processed refuses repeats
        redis_conn.delete(K.TRADE_CURSOR)
        again = FillFeed(connector=RepeatingConnector(restarted))
        result = again.poll()
        assert result.applied == 0 and result.fetched >= 8
        assert_redis_is_platform(m)
        assert state.trade_cursor_get() == max(Trade.objects.values_list("id", flat=True))


def test_a_crash_between_applying_a_page_and_advancing_the_cursor_repeats_nothing(platform, monkeypatch):
    m = platform.market_id
    with platform.connector() as c:
        feed = FillFeed(connector=c, page_limit=2)
        market_sync(market_id=m, connector=c, feed=feed)
        place(c, m, "YES", "BUY", 40, 20)
        for _ in range(5):
            platform.trader_order("NO", "BUY", 60, 1, tif="IOC")
        calls = {"n": 0}
        real = state.trade_cursor_advance

        def crash_on_second_page(value, **kw):
            calls["n"] += 1
            if calls["n"] == 2:
                raise ConnectionError("process killed")
            return real(value, **kw)

        monkeypatch.setattr(state, "trade_cursor_advance", crash_on_second_page)
        with pytest.raises(ConnectionError):
            feed.poll()
        monkeypatch.undo()
    with platform.connector() as c:
        assert FillFeed(connector=c, page_limit=2).poll().applied == 1
        assert_redis_is_platform(m)
