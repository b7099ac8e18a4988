"""The connector against a scripted transport: errors, retries, Retry-After, unknown outcomes."""
from __future__ import annotations

import json

import httpx
import pytest

from amm.connector import (
    ClientOrderIdGenerator,
    Conflict,
    Forbidden,
    InsufficientFunds,
    InvalidRequest,
    MarketNotActive,
    NotFound,
    OrderNotOpen,
    OrderRequest,
    PlatformClient,
    PlatformUnavailable,
    RateLimited,
    Replacement,
    UnknownOutcome,
    amm_order_state,
    parse_client_order_id,
)
from amm.enums import AMMOrderState

ORDER = {"id": "o-1", "client_order_id": "c-1", "market_id": "M", "side": "YES", "direction": "BUY",
         "book_type": "NATIVE_BUY", "price_cents": 40, "quantity": 10, "filled_quantity": 0,
         "remaining_quantity": 10, "status": "OPEN", "time_in_force": "GTC", "created_at": "2026-01-01T00:00:00Z"}


class Script:
    """A transport answering from a list of handlers, recording every request."""

    def __init__(self, *handlers):
        self.handlers = list(handlers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.handlers.pop(0) if len(self.handlers) > 1 else self.handlers[0]
        return handler(request)


def client(script: Script, **kw) -> tuple[PlatformClient, list[float]]:
    sleeps: list[float] = []
    kw.setdefault("max_attempts", 3)
    return PlatformClient(base_url="http://platform.test", api_key="k", transport=httpx.MockTransport(script),
                          sleep=sleeps.append, **kw), sleeps


def ok(body, status=200, headers=None):
    return lambda request: httpx.Response(status, json=body, headers=headers)


def err(status, code, detail="no", headers=None):
    return lambda request: httpx.Response(status, json={"error": code, "detail": detail}, headers=headers)


def boom(exc):
    def raise_(request):
        raise exc("simulated", request=request)
    return raise_


def test_constructor_opens_no_connection():
    def never(request):
        raise AssertionError("no request expected")
    PlatformClient(base_url="http://127.0.0.1:9", api_key="k", transport=httpx.MockTransport(never)).close()


def test_sends_the_api_key_and_parses_the_balance():
    script = Script(ok({"user_id": "u", "available_balance": 5, "frozen_balance": 2, "version": 9}))
    c, _ = client(script)
    balance = c.balance_get()
    assert (balance.available_balance, balance.frozen_balance, balance.version, balance.total_cents) == (5, 2, 9, 7)
    assert script.requests[0].headers["Authorization"] == "Token k"
    assert script.requests[0].url.path == "/api/v1/account/balance"


@pytest.mark.parametrize("status, code, error", [
    (400, "INVALID_INPUT", InvalidRequest), (401, "UNAUTHENTICATED", Forbidden), (403, "NOT_PRIVILEGED", Forbidden),
    (404, "MARKET_NOT_FOUND", NotFound), (409, "MARKET_NOT_ACTIVE", MarketNotActive),
    (409, "ORDER_NOT_OPEN", OrderNotOpen), (409, "ILLEGAL_TRANSITION", Conflict),
    (422, "INSUFFICIENT_SHARES", InsufficientFunds),
])
def test_error_codes_map_to_typed_errors_without_retry(status, code, error):
    script = Script(err(status, code, "bad thing"))
    c, sleeps = client(script)
    with pytest.raises(error) as info:
        c.market_get("M")
    assert info.value.code == code and info.value.status == status and not info.value.retryable
    assert len(script.requests) == 1 and sleeps == []


def test_reads_retry_5xx_and_connection_errors_with_exponential_backoff():
    script = Script(err(503, "DOWN"), boom(httpx.ConnectError), ok({"user_id": "u", "available_balance": 1}))
    c, sleeps = client(script, backoff_base_s=0.1, max_attempts=4)
    assert c.balance_get().available_balance == 1
    assert sleeps == [0.1, 0.2]


def test_reads_give_up_after_max_attempts_as_platform_unavailable():
    c, sleeps = client(Script(err(502, "BAD_GATEWAY")), max_attempts=3, backoff_base_s=0.01)
    with pytest.raises(PlatformUnavailable) as info:
        c.position_get("M")
    assert info.value.retryable and len(sleeps) == 2


def test_retry_after_is_honoured():
    script = Script(err(429, "RATE_LIMITED", headers={"Retry-After": "2"}), ok({"results": [], "next_since": 0}))
    c, sleeps = client(script, backoff_base_s=0.01)
    assert c.trades_list(since=0).results == []
    assert sleeps == [2.0]


def test_a_retry_after_longer_than_the_cap_is_raised_to_the_caller():
    c, sleeps = client(Script(err(429, "RATE_LIMITED", headers={"Retry-After": "120"})), max_retry_after_s=30)
    with pytest.raises(RateLimited) as info:
        c.orders_replace(market_id="M", replacements=[Replacement(old_order_id="o-1")])
    assert info.value.retry_after_s == 120 and sleeps == []


def test_placement_retries_with_the_same_client_order_id():
    script = Script(err(503, "DOWN"), ok({"order": ORDER, "trades": []}, status=200))
    c, _ = client(script)
    result = c.order_place(market_id="M", order=OrderRequest("c-1", "YES", "BUY", 40, 10))
    assert result.order.id == "o-1" and result.created is False and not result.resolved
    bodies = [json.loads(r.content) for r in script.requests]
    assert bodies[0] == bodies[1] and bodies[0]["client_order_id"] == "c-1"


def test_placement_with_a_lost_answer_is_resolved_by_client_order_id():
    script = Script(boom(httpx.ReadTimeout), boom(httpx.ReadTimeout), ok({"results": [ORDER]}))
    c, _ = client(script, max_attempts=2)
    result = c.order_place(market_id="M", order=OrderRequest("c-1", "YES", "BUY", 40, 10))
    assert result.resolved and result.order.id == "o-1" and result.trades == []
    assert script.requests[-1].method == "GET" and script.requests[-1].url.params["client_order_id"] == "c-1"


def test_placement_never_reported_failed_when_the_platform_does_not_have_it_yet():
    script = Script(err(500, "SERVER_ERROR"), ok({"results": []}))
    c, _ = client(script, max_attempts=1)
    with pytest.raises(UnknownOutcome) as info:
        c.order_place(market_id="M", order=OrderRequest("c-9", "YES", "BUY", 40, 10))
    assert info.value.client_order_ids == ("c-9",) and info.value.operation == "order_place"


def test_replace_is_not_retried_and_a_lost_answer_is_resolved_by_its_new_orders():
    placed = {**ORDER, "id": "o-2", "client_order_id": "c-2"}
    script = Script(err(503, "DOWN"), ok({"results": [placed]}))
    c, _ = client(script)
    result = c.orders_replace(market_id="M", replacements=[
        Replacement(old_order_id="o-1", new=OrderRequest("c-2", "YES", "BUY", 41, 10))])
    assert result.resolved and [o.id for o in result.placed] == ["o-2"] and result.all_cancelled_ids == ("o-1",)
    assert [r.method for r in script.requests] == ["POST", "GET"]


def test_replace_whose_new_orders_do_not_exist_stays_unknown():
    script = Script(boom(httpx.ReadTimeout), ok({"results": []}))
    c, _ = client(script)
    with pytest.raises(UnknownOutcome):
        c.orders_replace(market_id="M", replacements=[Replacement(None, OrderRequest("c-3", "NO", "BUY", 41, 1))])


def test_cancel_with_a_lost_answer_asks_whether_the_order_is_still_open():
    script = Script(err(504, "TIMEOUT"), ok({"results": []}))
    c, _ = client(script)
    assert c.order_cancel("o-1", market_id="M") is None  # no longer open: cancelled (or filled)
    still_open = Script(err(504, "TIMEOUT"), ok({"results": [ORDER]}))
    c, _ = client(still_open)
    with pytest.raises(UnknownOutcome):
        c.order_cancel("o-1", market_id="M")


def test_an_order_call_that_never_left_is_retried_even_if_not_idempotent():
    script = Script(boom(httpx.ConnectError), ok({"cancelled": [], "placed": [ORDER], "trades": []}))
    c, sleeps = client(script)
    assert c.orders_replace(market_id="M", replacements=[Replacement(None, OrderRequest("c-1", "YES", "BUY", 40, 10))]).placed
    assert len(sleeps) == 1


def test_mint_retries_with_the_same_request_id():
    answer = {"market_id": "M", "quantity": 5, "balance": {"user_id": "u", "available_balance": 1},
              "position": {"yes_volume": 5, "no_volume": 5}}
    script = Script(err(503, "DOWN"), ok(answer))
    c, _ = client(script)
    result = c.amm_mint(market_id="M", quantity=5, request_id="r-1")
    assert result.position.yes_volume == 5 and result.request_id == "r-1"
    assert {json.loads(r.content)["request_id"] for r in script.requests} == {"r-1"}


def test_a_mint_whose_later_attempts_never_got_through_stays_unknown():
    """The first attempt may have minted (503 after forwarding); the platform is unreachable
    for the retries: the answer is 'unknown', never 'refused' (the caller asks again later)."""
    script = Script(err(503, "DOWN"), boom(httpx.ConnectError))
    c, sleeps = client(script)
    with pytest.raises(UnknownOutcome) as caught:
        c.amm_mint(market_id="M", quantity=5, request_id="r-1")
    assert caught.value.request_id == "r-1" and len(script.requests) == 3 and len(sleeps) == 2
    unreachable, _ = client(Script(boom(httpx.ConnectError)))
    with pytest.raises(PlatformUnavailable):  # no attempt got through: nothing happened
        unreachable.amm_mint(market_id="M", quantity=5, request_id="r-2")


def test_client_order_ids_follow_the_spec_and_parse_back():
    ids = ClientOrderIdGenerator()
    a = ids.next(market_id="MKT_A-1", side="YES", direction="SELL", timestamp_ms=1740652800000)
    b = ids.next(market_id="MKT_A-1", side="YES", direction="SELL", timestamp_ms=1740652800000)
    assert a == "amm_MKT_A-1_YES_SELL_1740652800000_0" and b.endswith("_1")
    assert parse_client_order_id(a) == {"market_id": "MKT_A-1", "side": "YES", "direction": "SELL",
                                        "timestamp_ms": "1740652800000", "seq": "0"}
    assert parse_client_order_id("someone-else") is None


def test_platform_statuses_map_to_amm_order_states():
    assert amm_order_state("OPEN") is AMMOrderState.ACTIVE
    assert amm_order_state("PARTIALLY_FILLED") is AMMOrderState.PARTIALLY_ACTIVE
    assert amm_order_state("FILLED") is AMMOrderState.FILLED
    assert amm_order_state("CANCELLED") is AMMOrderState.CANCELLED
    assert amm_order_state("REJECTED") is None
