"""Fixtures for API tests: real HTTP through httpx against pytest-django's live server.

Users, keys, deposits and markets are made through the services (the staff path); every
call under test goes over the wire, as the AMM's connector would make it."""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from exchange.enums import AMM_USER_ID
from exchange.invariants import invariants_check
from exchange.models import Order
from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create
from exchange.services.deadman import deadman_sweeper_stop


@dataclass
class Actor:
    user_id: str
    key: str
    http: httpx.Client  # authenticated with the user's key, base URL /api/v1

    def place(self, market_id: str, side: str, direction: str, price: int, qty: int, *, tif: str = "GTC",
              coid: str | None = None, expect: int | None = 201) -> dict:
        body = {"market_id": market_id, "client_order_id": coid or uuid.uuid4().hex, "side": side,
                "direction": direction, "price_cents": price, "quantity": qty, "time_in_force": tif}
        response = self.http.post("/orders", json=body)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture(scope="session", autouse=True)
def _stop_deadman_sweeper(django_db_setup):
    """The sweeper thread a cancel-all-after call starts in this process must let go of the
    test database before it is dropped."""
    yield
    deadman_sweeper_stop()


@pytest.fixture(autouse=True)
def _sweeper_ends_with_the_test(transactional_db):
    """A sweeper thread a test started (by arming a switch) ends before the database is
    flushed and closed to it."""
    yield
    deadman_sweeper_stop()


@pytest.fixture
def api_url(live_server) -> str:
    return f"{live_server.url}/api/v1"


@pytest.fixture
def client_for(api_url):
    """client_for(key) -> an httpx.Client for /api/v1 (key None: no Authorization)."""
    clients: list[httpx.Client] = []

    def make(key: str | None) -> httpx.Client:
        # Connection: close — the test server's keep-alive stalls ~40 ms a request (Nagle).
        headers = {"Connection": "close", **({"Authorization": f"Token {key}"} if key else {})}
        client = httpx.Client(base_url=api_url, headers=headers, timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_actor(client_for):
    def make(name: str | None = None, *, deposit: int = 1_000_000, staff: bool = False,
             user_id: str | None = None) -> Actor:
        if user_id is None:
            user, _ = user_get_or_create(username=name or f"t_{uuid.uuid4().hex[:10]}", is_staff=staff)
        else:
            from exchange.models import User

            user = User.objects.get(pk=user_id)
        if deposit:
            account_deposit(user_id=str(user.id), amount_cents=deposit)
        key = api_key_issue(user=user)
        return Actor(user_id=str(user.id), key=key, http=client_for(key))

    return make


@pytest.fixture
def alice(make_actor) -> Actor:
    return make_actor("alice")


@pytest.fixture
def bob(make_actor) -> Actor:
    return make_actor("bob")


@pytest.fixture
def amm_actor(make_actor) -> Actor:
    return make_actor(user_id=AMM_USER_ID, deposit=1_000_000)


@pytest.fixture
def staff(make_actor) -> Actor:
    return make_actor("ops_staff", deposit=0, staff=True)


@pytest.fixture
def anon(client_for) -> httpx.Client:
    return client_for(None)


@pytest.fixture
def market() -> str:
    market_id = f"MKT-{uuid.uuid4().hex[:8]}"
    market_create(market_id=market_id, title="Will the test pass?", maker_fee_bps=20, taker_fee_bps=50)
    return market_id


@pytest.fixture
def clean_invariants():
    """Use in mutating tests: every SPEC §3.5 invariant holds when the test ends."""
    yield
    assert invariants_check() == []


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= {"error", "detail", "field"} and {"error", "detail"} <= set(body), body
    assert isinstance(body["error"], str) and isinstance(body["detail"], str)
    if code is not None:
        assert body["error"] == code, body
    return body


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def open_orders(user_id: str) -> int:
    return Order.objects.filter(user_id=user_id, status__in=["OPEN", "PARTIALLY_FILLED"]).count()
