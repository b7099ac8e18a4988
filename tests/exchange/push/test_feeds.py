"""WS /ws/v1/orderbook/{market_id} and /ws/v1/trades/{market_id} (docs/push.md): routing,
authentication, SNAPSHOT, resnapshot, bad client input; a real server process and client."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.exchange.push.conftest import feed, recv_json
from tests.ws_fixtures import asgi_server  # noqa: F401 (a fixture)

# One xdist worker runs the module, so its tests share one server process.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("exchange_push")]


def run(coro):
    return asyncio.run(coro)


def test_orderbook_feed_opens_with_the_snapshot_the_rest_api_shows(asgi, make_trader, market):
    trader = make_trader()
    trader.order(market, "YES", "BUY", 45, 100)
    trader.order(market, "YES", "BUY", 44, 30)
    trader.order(market, "NO", "BUY", 53, 80)  # a YES-view ask at 47

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/orderbook/{market}", trader.key) as ws:
            return await recv_json(ws)

    snapshot = run(scenario())
    rest = trader.book(market)
    assert snapshot == {"type": "SNAPSHOT", "market_id": market, "sequence_id": rest["sequence_id"],
                        "bids": [[45, 100], [44, 30]], "asks": [[47, 80]]}
    assert rest["bids"] == snapshot["bids"] and rest["asks"] == snapshot["asks"]


def test_trades_feed_opens_with_the_public_tape(asgi, make_trader, market):
    maker, taker = make_trader(), make_trader()
    maker.order(market, "NO", "BUY", 48, 10)  # a YES-view ask at 52
    taker.order(market, "YES", "BUY", 52, 4)
    taker.order(market, "YES", "BUY", 52, 6)

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/trades/{market}?token={taker.key}") as ws:
            return await recv_json(ws)

    snapshot = run(scenario())
    tape = taker.http.get(f"/orderbook/{market}", params={"trades": 100}).json()
    assert snapshot["type"] == "SNAPSHOT" and snapshot["market_id"] == market
    assert snapshot["sequence_id"] == tape["sequence_id"]
    assert snapshot["trades"] == tape["recent_trades"]
    assert [t["quantity"] for t in snapshot["trades"]] == [6, 4]  # newest first
    assert set(snapshot["trades"][0]) == {"id", "price_cents", "quantity", "executed_ms"}  # no one's identity


@pytest.mark.parametrize("path", ["orderbook", "trades"])
def test_a_bad_or_missing_key_is_closed_with_4401(asgi, make_trader, market, path):
    trader = make_trader()
    url = f"{asgi.ws_url}/ws/v1/{path}/{market}"

    async def close_code(url: str, key: str | None = None, headers: dict | None = None) -> int:
        async with feed(url, key, headers=headers) as ws:
            with pytest.raises(ConnectionClosed):
                await recv_json(ws)
            return ws.close_code

    assert run(close_code(url)) == 4401
    assert run(close_code(url, "not-a-key")) == 4401
    assert run(close_code(f"{url}?token=not-a-key")) == 4401
    assert run(close_code(url, headers={"Authorization": f"Bearer {trader.key}"})) == 4401
    # the good key in either place opens the feed
    assert run(_first_type(url, trader.key)) == "SNAPSHOT"
    assert run(_first_type(f"{url}?token={trader.key}")) == "SNAPSHOT"


async def _first_type(url: str, key: str | None = None) -> str:
    async with feed(url, key) as ws:
        return (await recv_json(ws))["type"]


@pytest.mark.parametrize("path", ["orderbook", "trades"])
def test_an_unknown_market_is_closed_with_4404(asgi, make_trader, path):
    trader = make_trader()

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/{path}/NO-SUCH-MARKET", trader.key) as ws:
            with pytest.raises(ConnectionClosed):
                await recv_json(ws)
            return ws.close_code

    assert run(scenario()) == 4404


def test_resnapshot_on_request_answers_the_book_as_it_is_now(asgi, make_trader, market):
    trader = make_trader()
    trader.order(market, "YES", "BUY", 40, 10)

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/orderbook/{market}", trader.key) as ws:
            first = await recv_json(ws)
            await asyncio.to_thread(trader.order, market, "NO", "BUY", 40, 5)  # ask at 60
            await ws.send(json.dumps({"action": "resnapshot"}))
            while (message := await recv_json(ws))["type"] != "SNAPSHOT":
                pass  # deltas of the new order, when the relay publishes them
            return first, message

    first, second = run(scenario())
    assert first["bids"] == [[40, 10]] and first["asks"] == []
    assert second == {"type": "SNAPSHOT", "market_id": market, "sequence_id": trader.book(market)["sequence_id"],
                      "bids": [[40, 10]], "asks": [[60, 5]]}
    assert second["sequence_id"] > first["sequence_id"]


def test_an_unknown_client_message_is_answered_with_an_error_and_the_feed_goes_on(asgi, make_trader, market):
    trader = make_trader()

    async def scenario():
        async with feed(f"{asgi.ws_url}/ws/v1/trades/{market}", trader.key) as ws:
            await recv_json(ws)
            await ws.send("not json")
            error = await recv_json(ws)
            await ws.send(json.dumps({"action": "subscribe_everything"}))
            error2 = await recv_json(ws)
            await ws.send(json.dumps({"action": "resnapshot"}))
            return error, error2, await recv_json(ws)

    error, error2, snapshot = run(scenario())
    assert error["type"] == error2["type"] == "ERROR" and error["code"] == "UNKNOWN_ACTION"
    assert snapshot["type"] == "SNAPSHOT" and snapshot["trades"] == []


def test_the_reusable_fixture_serves_http_and_the_feeds_in_one_process(asgi_server, make_trader, market):
    """tests/ws_fixtures.asgi_server (for other modules' tests): the REST API and a feed on one port."""
    trader = make_trader()
    response = httpx.get(f"{asgi_server.url}/api/v1/markets/{market}", headers={"Authorization": f"Token {trader.key}"})
    assert response.status_code == 200 and response.json()["id"] == market
    assert run(_first_type(f"{asgi_server.ws_url}/ws/v1/orderbook/{market}", trader.key)) == "SNAPSHOT"
