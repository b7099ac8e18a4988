"""Every call of the platform contract (SPEC §3.6) over real HTTP, and its typed errors."""
from __future__ import annotations

import httpx
import pytest

from amm.connector import (
    Forbidden,
    InsufficientFunds,
    InvalidRequest,
    MarketNotActive,
    NotFound,
    OrderNotOpen,
    PlatformClient,
    RateLimited,
    Replacement,
    UnknownOutcome,
)
from amm.constants import AMM_USER_ID
from exchange.models import Order
from exchange.services import market_set_status
from tests.amm.live.conftest import AMM_DEPOSIT, order

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_call_of_the_contract(platform):
    m = platform.market_id
    with platform.connector() as c:
        balance = c.balance_get()
        assert (balance.user_id, balance.available_balance, balance.frozen_balance) == (AMM_USER_ID, AMM_DEPOSIT, 0)
        assert c.position_get(m).yes_volume == 0
        assert m in {mk.id for mk in c.markets_list()}
        market = c.market_get(m)
        assert (market.status, market.maker_fee_bps, market.taker_fee_bps) == ("ACTIVE", 20, 50)

        minted = c.amm_mint(market_id=m, quantity=100, request_id="mint-1")
        assert minted.position.yes_volume == 100 and minted.balance.available_balance == AMM_DEPOSIT - 10_000
        again = c.amm_mint(market_id=m, quantity=100, request_id="mint-1")  # idempotent
        assert again.position.yes_volume == 100

        placed = c.order_place(market_id=m, order=order("YES", "SELL", 60, 10))
        assert placed.created and placed.order.status == "OPEN" and placed.order.book_type == "NATIVE_SELL"
        repeat = c.order_place(market_id=m, order=order("YES", "SELL", 60, 10).__class__(
            placed.order.client_order_id, "YES", "SELL", 60, 10))
        assert repeat.created is False and repeat.order.id == placed.order.id
        bid = c.order_place(market_id=m, order=order("YES", "BUY", 40, 10)).order
        assert [o.id for o in c.orders_list(client_order_id=placed.order.client_order_id)] == [placed.order.id]
        assert {o.id for o in c.orders_open(m)} == {placed.order.id, bid.id}

        book = c.orderbook_get(m, depth=5)
        assert book.bids == [(40, 10)] and book.asks == [(60, 10)] and book.sequence_id > 0

        platform.trader_order("YES", "BUY", 60, 4, tif="IOC")
        page = c.trades_list(since=0, market_id=m)
        assert len(page.results) == 1 and page.next_since == page.results[0].id
        trade = page.results[0]
        assert (trade.scenario, trade.price_cents, trade.quantity, trade.sell_user_id) == (
            "TRANSFER_YES", 60, 4, AMM_USER_ID)
        assert c.trades_list(since=page.next_since).results == []

        replaced = c.orders_replace(market_id=m, replacements=[
            Replacement(old_order_id=bid.id, new=order("YES", "BUY", 41, 5)),
            Replacement(old_order_id=None, new=order("NO", "SELL", 55, 5)),
        ])
        assert [o.id for o in replaced.cancelled] == [bid.id]
        assert [(o.side, o.direction, o.book_type) for o in replaced.placed] == [
            ("YES", "BUY", "NATIVE_BUY"), ("NO", "SELL", "SYNTHETIC_BUY")]

        cancelled = c.order_cancel(replaced.placed[0].id)
        assert cancelled.status == "CANCELLED"
        with pytest.raises(OrderNotOpen):
            c.order_cancel(replaced.placed[0].id)
        armed = c.cancel_all_after(60_000)
        assert armed["timeout_ms"] == 60_000
        assert c.cancel_all_after(0)["deadline"] is None
        assert {o.id for o in c.orders_cancel_all(m)} == {placed.order.id, replaced.placed[1].id}
        assert c.orders_open(m) == []
        burned = c.amm_burn(market_id=m, quantity=10, request_id="burn-1")
        assert burned.position.yes_volume == 100 - 4 - 10


def test_platform_errors_arrive_typed(platform):
    m = platform.market_id
    with platform.connector() as c:
        with pytest.raises(InsufficientFunds):
            c.order_place(market_id=m, order=order("YES", "SELL", 60, 10))  # no shares
        with pytest.raises(InvalidRequest) as info:
            c.order_place(market_id=m, order=order("YES", "BUY", 0, 10))
        assert info.value.field == "price_cents"
        with pytest.raises(NotFound):
            c.market_get("MKT-NOPE")
        market_set_status(market_id=m, status="SUSPENDED")
        with pytest.raises(MarketNotActive):
            c.order_place(market_id=m, order=order("YES", "BUY", 40, 1))
    trader = PlatformClient(base_url=platform.url, api_key="not-a-key", headers={"Connection": "close"})
    with pytest.raises(Forbidden):
        trader.balance_get()


def test_retry_after_from_the_platform_is_honoured(platform, settings):
    settings.EXCHANGE_REPLACE_RATE_LIMIT = 1
    sleeps: list[float] = []
    with platform.connector(sleep=sleeps.append, max_attempts=2, max_retry_after_s=120) as c:
        c.orders_replace(market_id=platform.market_id, replacements=[Replacement(None, order("YES", "BUY", 10, 1))])
        with pytest.raises(RateLimited) as info:
            c.orders_replace(market_id=platform.market_id,
                             replacements=[Replacement(None, order("YES", "BUY", 11, 1))])
    assert 0 < info.value.retry_after_s <= 60
    assert sleeps == [info.value.retry_after_s]  # waited exactly Retry-After once, then gave up


class ForwardThenFail(httpx.BaseTransport):
    """Fault injection: forward the order call to the platform, then lose the answer."""

    def __init__(self, mode: str, path: str = "/api/v1/orders", method: str = "POST"):
        self.inner = httpx.HTTPTransport()
        self.mode, self.path, self.method = mode, path, method
        self.faults = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        hit = request.method == self.method and request.url.path == self.path
        if hit and self.mode == "drop":  # never reaches the platform, and we cannot tell
            self.faults += 1
            raise httpx.ReadTimeout("simulated timeout before the platform saw it", request=request)
        response = self.inner.handle_request(request)
        if hit:
            response.read()
            self.faults += 1
            if self.mode == "timeout":
                raise httpx.ReadTimeout("simulated timeout after the platform executed it", request=request)
            return httpx.Response(503, json={"error": "UNAVAILABLE", "detail": "proxy lost the answer"})
        return response


@pytest.mark.parametrize("mode", ["timeout", "503"])
def test_unknown_outcome_of_a_placement_is_resolved_by_asking_the_platform(platform, mode):
    transport = ForwardThenFail(mode)
    request = order("YES", "BUY", 40, 10)
    with platform.connector(transport=transport, max_attempts=1) as c:
        result = c.order_place(market_id=platform.market_id, order=request)
    assert transport.faults == 1 and result.resolved
    db_order = Order.objects.get(client_order_id=request.client_order_id)
    assert result.order.id == str(db_order.id) and result.order.status == "OPEN"


def test_a_placement_the_platform_never_saw_stays_unknown_not_failed(platform):
    transport = ForwardThenFail("drop")
    request = order("YES", "BUY", 40, 10)
    with platform.connector(transport=transport, max_attempts=2) as c:
        with pytest.raises(UnknownOutcome) as info:
            c.order_place(market_id=platform.market_id, order=request)
        assert info.value.client_order_ids == (request.client_order_id,)
        assert c.order_resolve(request.client_order_id) is None  # asked again later: still absent
    with platform.connector() as c:  # the network is back: the retry reuses the client order id
        again = c.order_place(market_id=platform.market_id, order=request)
        assert again.created and Order.objects.filter(client_order_id=request.client_order_id).count() == 1


def test_unknown_outcome_of_a_replace_is_resolved_by_its_new_orders(platform):
    with platform.connector() as c:
        old = c.order_place(market_id=platform.market_id, order=order("YES", "BUY", 40, 10)).order
    transport = ForwardThenFail("503", path="/api/v1/amm/orders/replace")
    new = order("YES", "BUY", 42, 10)
    with platform.connector(transport=transport, max_attempts=3) as c:
        result = c.orders_replace(market_id=platform.market_id, replacements=[Replacement(old.id, new)])
    assert transport.faults == 1  # not retried: a replace is not idempotent
    assert result.resolved and result.all_cancelled_ids == (old.id,)
    assert [o.client_order_id for o in result.placed] == [new.client_order_id]
    assert Order.objects.get(pk=old.id).status == "CANCELLED"
