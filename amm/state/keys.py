"""Every `amm:*` Redis key, named once (SPEC §4, seed §4 and Appendix A).

Seed keys (exact names, fields and types):

| key | type | fields |
|---|---|---|
| `amm:inventory:{m}` | hash | INVENTORY_FIELDS |
| `amm:orders:{m}` | hash | order_id -> JSON {side, direction, price, qty, remaining, book_type, created_ms} |
| `amm:state:{m}` | hash | STATE_FIELDS |
| `amm:config:{m}` | hash | StrategyConfig.as_redis_mapping() + `version` |
| `amm:processed:{m}` | set, TTL 24 h | processed trade ids (+ `mint:`/`burn:` request ids) |
| `amm:oracle:{m}` | hash | price_cents, ts_ms, source |

Extensions (this module's own bookkeeping, documented in amm/state/__init__.py):

| key | type | what |
|---|---|---|
| `amm:market:{m}` | hash | platform market metadata (status, price band, fee bps, dates, reserve, shares) |
| `amm:markets` | set | market ids whose inventory is kept (cash is mirrored into each) |
| `amm:untracked_fills:{m}` | hash, TTL 1 h | order_id -> shares the fill feed applied before the order was tracked |
| `amm:cursor:trades` | string | last trade id of the fill feed (survives restarts) |
| `amm:journal` | stream | order events, flushed in batches to the AMMOrder table |
"""
from __future__ import annotations

PREFIX = "amm"

INVENTORY_PREFIX = f"{PREFIX}:inventory:"
ORDERS_PREFIX = f"{PREFIX}:orders:"
STATE_PREFIX = f"{PREFIX}:state:"
CONFIG_PREFIX = f"{PREFIX}:config:"
PROCESSED_PREFIX = f"{PREFIX}:processed:"
ORACLE_PREFIX = f"{PREFIX}:oracle:"
MARKET_PREFIX = f"{PREFIX}:market:"
UNTRACKED_PREFIX = f"{PREFIX}:untracked_fills:"

MARKETS = f"{PREFIX}:markets"
TRADE_CURSOR = f"{PREFIX}:cursor:trades"
JOURNAL = f"{PREFIX}:journal"

INVENTORY_FIELDS = (
    "yes_volume",
    "no_volume",
    "yes_available",
    "no_available",
    "yes_cost_sum_cents",
    "no_cost_sum_cents",
    "cash_cents",
    "updated_at_ms",
)
ORDER_FIELDS = ("side", "direction", "price", "qty", "remaining", "book_type", "created_ms")
STATE_FIELDS = {  # field -> Python type (seed §4.3)
    "phase": str,
    "fair_price_cents": int,
    "sigma_cents": float,
    "inventory_skew": float,
    "last_requote_ms": int,
    "daily_pnl_cents": int,
    "total_fills_today": int,
    "lvr_cooldown_until": int,
    "kill_switch": str,
    "defense_level": str,
}
ORACLE_FIELDS = {"price_cents": float, "ts_ms": int, "source": str}
MARKET_FIELDS = {
    "status": str,
    "min_price_cents": int,
    "max_price_cents": int,
    "maker_fee_bps": int,
    "taker_fee_bps": int,
    "trading_end_ms": int,
    "resolution_ms": int,
    "reserve_balance": int,
    "total_yes_shares": int,
    "total_no_shares": int,
    "outcome": str,
    "updated_at_ms": int,
}
CONFIG_VERSION_FIELD = "version"

PROCESSED_TTL_S = 24 * 3600  # seed Appendix A
UNTRACKED_TTL_S = 3600


def inventory_key(market_id: str) -> str:
    return f"{INVENTORY_PREFIX}{market_id}"


def orders_key(market_id: str) -> str:
    return f"{ORDERS_PREFIX}{market_id}"


def state_key(market_id: str) -> str:
    return f"{STATE_PREFIX}{market_id}"


def config_key(market_id: str) -> str:
    return f"{CONFIG_PREFIX}{market_id}"


def processed_key(market_id: str) -> str:
    return f"{PROCESSED_PREFIX}{market_id}"


def oracle_key(market_id: str) -> str:
    return f"{ORACLE_PREFIX}{market_id}"


def market_key(market_id: str) -> str:
    return f"{MARKET_PREFIX}{market_id}"


def untracked_key(market_id: str) -> str:
    return f"{UNTRACKED_PREFIX}{market_id}"


def market_keys(market_id: str) -> list[str]:
    """Every key that belongs to one market (for MEMORY USAGE, cleanup)."""
    return [
        inventory_key(market_id),
        orders_key(market_id),
        state_key(market_id),
        config_key(market_id),
        processed_key(market_id),
        oracle_key(market_id),
        market_key(market_id),
        untracked_key(market_id),
    ]
