"""The live platform over real HTTP: pytest-django's live_server runs exchange/ (its REST API
under /api/v1/), the AMM's connector talks to it with the AMM's own API key. Platform
state (users, deposits, markets, counterparty orders) is set up with exchange services:
tests are not the plugin."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from amm.connector import OrderRequest, PlatformClient
from amm.constants import AMM_USER_ID
from exchange.models import Account, Market, Position, User
from exchange.services import NewOrder, account_deposit, api_key_issue, market_create, order_place, user_get_or_create
from exchange.services.deadman import deadman_sweeper_stop

AMM_DEPOSIT = 1_000_000


@pytest.fixture(scope="session", autouse=True)
def _stop_deadman_sweeper(django_db_setup):
    """A cancel-all-after call starts the platform's sweeper thread in this process; it must
    let go of the test database before the database is dropped."""
    yield
    deadman_sweeper_stop()


@dataclass
class Platform:
    url: str
    amm_key: str
    market_id: str
    trader_id: str
    trader2_id: str

    def connector(self, **kwargs) -> PlatformClient:
        kwargs.setdefault("backoff_base_s", 0.001)
        # Connection: close — the test server's keep-alive stalls ~40 ms a request (Nagle).
        kwargs.setdefault("headers", {"Connection": "close"})
        return PlatformClient(base_url=self.url, api_key=self.amm_key, **kwargs)

    def trader_order(self, side: str, direction: str, price: int, qty: int, *, tif: str = "GTC",
                     trader: str | None = None, market_id: str | None = None):
        """A counterparty order, through the platform's services."""
        return order_place(user_id=trader or self.trader_id, market_id=market_id or self.market_id,
                           new=NewOrder(uuid.uuid4().hex, side, direction, price, qty, tif))

    def new_market(self, **kwargs) -> str:
        market_id = f"MKT-{uuid.uuid4().hex[:8]}"
        market_create(market_id=market_id, title="another market", **kwargs)
        return market_id

    @staticmethod
    def amm_account() -> Account:
        return Account.objects.get(user_id=AMM_USER_ID)

    def amm_position(self, market_id: str | None = None) -> Position:
        market_id = market_id or self.market_id
        return Position.objects.filter(user_id=AMM_USER_ID, market_id=market_id).first() or Position(
            user_id=AMM_USER_ID, market_id=market_id)

    def market(self) -> Market:
        return Market.objects.get(pk=self.market_id)


def coid() -> str:
    return f"amm_t_{uuid.uuid4().hex[:12]}"


def order(side: str, direction: str, price: int, qty: int, tif: str = "GTC") -> OrderRequest:
    return OrderRequest(coid(), side, direction, price, qty, tif)


@pytest.fixture
def platform(live_server, redis_conn, settings) -> Platform:
    account_deposit(user_id=AMM_USER_ID, amount_cents=AMM_DEPOSIT)
    key = api_key_issue(user=User.objects.get(pk=AMM_USER_ID))
    traders = []
    for _ in range(2):
        user, _ = user_get_or_create(username=f"trader_{uuid.uuid4().hex[:8]}")
        account_deposit(user_id=str(user.id), amount_cents=1_000_000)
        traders.append(str(user.id))
    market_id = f"MKT-{uuid.uuid4().hex[:8]}"
    market_create(market_id=market_id, title="Will the AMM balance its books?", maker_fee_bps=20, taker_fee_bps=50)
    settings.AMM_PLATFORM_BASE_URL = live_server.url
    settings.AMM_PLATFORM_API_KEY = key
    return Platform(url=live_server.url, amm_key=key, market_id=market_id, trader_id=traders[0],
                    trader2_id=traders[1])
