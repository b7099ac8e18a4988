"""The AMM's link to the platform: the only package that knows the platform's HTTP (STYLE).

- `client.PlatformClient`: one typed method per call of the contract (SPEC §3.6).
- `errors`: typed errors, retryable or not; `UnknownOutcome` for an order call whose
  outcome is not known.
- `types`: parsed answers (Balance, Position, Market, Order, Trade, ...).
- `status`: the platform-status -> AMMOrderState table.
- `ids`: client order ids `amm_{market_id}_{side}_{direction}_{timestamp_ms}_{seq}`.
"""
from __future__ import annotations

from typing import Any

from amm.conf import amm_settings
from amm.connector.client import PlatformClient
from amm.connector.errors import (  # noqa: F401
    Conflict,
    ConnectorError,
    DuplicateRequest,
    Fenced,
    Forbidden,
    InsufficientFunds,
    InvalidRequest,
    MarketNotActive,
    NotFound,
    OrderNotOpen,
    PlatformUnavailable,
    ProtocolError,
    RateLimited,
    UnknownOutcome,
)
from amm.connector.ids import ClientOrderIdGenerator, bounded_request_id, parse_client_order_id  # noqa: F401
from amm.connector.order_status import OPEN_STATUSES, PLATFORM_TO_AMM, amm_order_state, is_live  # noqa: F401
from amm.connector.types import (  # noqa: F401
    Balance,
    Fence,
    Market,
    Order,
    OrderBook,
    TapeTrade,
    OrderRequest,
    PlaceResult,
    Position,
    PrivilegedResult,
    Replacement,
    ReplaceResult,
    Trade,
    TradesPage,
)


def connector_from_settings(**overrides: Any) -> PlatformClient:
    """A PlatformClient configured by the AMM_PLATFORM_* settings (keyword overrides win)."""
    
    kwargs: dict[str, Any] = {
        "base_url": amm_settings.AMM_PLATFORM_BASE_URL,
        "api_key": amm_settings.AMM_PLATFORM_API_KEY,
        "timeout_s": amm_settings.AMM_PLATFORM_TIMEOUT_MS / 1000,
        "connect_timeout_s": amm_settings.AMM_PLATFORM_CONNECT_TIMEOUT_MS / 1000,
        "max_attempts": amm_settings.AMM_PLATFORM_MAX_ATTEMPTS,
        "backoff_base_s": amm_settings.AMM_PLATFORM_BACKOFF_BASE_MS / 1000,
        "backoff_max_s": amm_settings.AMM_PLATFORM_BACKOFF_MAX_MS / 1000,
        "max_retry_after_s": amm_settings.AMM_PLATFORM_MAX_RETRY_AFTER_S,
    }
    kwargs.update(overrides)
    return PlatformClient(**kwargs)
