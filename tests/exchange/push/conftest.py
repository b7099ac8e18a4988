"""The push feeds against a real ASGI server process (tests/ws_fixtures.py) and a real
WebSocket client (the `websockets` library): users, keys and markets committed through the
services, orders placed over REST on the same server."""
from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass

import httpx
import pytest
from websockets.asyncio.client import connect

from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create
from tests.ws_fixtures import AsgiServer


@pytest.fixture(scope="module")
def asgi(django_db_setup, django_db_blocker):
    """One server per module (starting one takes ~2 s); each test commits its own rows."""
    server = AsgiServer().start()
    yield server
    server.stop()
    server.cleanup()


@dataclass
class Trader:
    key: str
    http: httpx.Client

    def order(self, market_id: str, side: str, direction: str, price: int, qty: int, tif: str = "GTC") -> dict:
        body = {"market_id": market_id, "client_order_id": uuid.uuid4().hex, "side": side, "direction": direction,
                "price_cents": price, "quantity": qty, "time_in_force": tif}
        response = self.http.post("/orders", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def book(self, market_id: str) -> dict:
        response = self.http.get(f"/orderbook/{market_id}", params={"depth": 100})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def make_trader(asgi, transactional_db, redis_conn):
    clients: list[httpx.Client] = []

    def make() -> Trader:
        user, _ = user_get_or_create(username=f"ws_{uuid.uuid4().hex[:10]}")
        account_deposit(user_id=str(user.id), amount_cents=10_000_000)
        key = api_key_issue(user=user)
        http = httpx.Client(base_url=f"{asgi.url}/api/v1", headers={"Authorization": f"Token {key}"}, timeout=30)
        clients.append(http)
        return Trader(key=key, http=http)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def market(transactional_db) -> str:
    market_id = f"WS-{uuid.uuid4().hex[:10]}"
    market_create(market_id=market_id, title="push feed test", maker_fee_bps=0, taker_fee_bps=0)
    return market_id


def feed(url: str, key: str | None = None, *, headers: dict | None = None, **kwargs):
    """A client of one feed (`key` in the Authorization header; `headers` to send others)."""
    headers = {**({"Authorization": f"Token {key}"} if key else {}), **(headers or {})}
    return connect(url, additional_headers=headers or None, open_timeout=10, **kwargs)


async def recv_json(ws, timeout: float = 10.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))
