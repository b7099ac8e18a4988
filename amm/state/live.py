"""Live Redis state of many markets in one round trip (operator surfaces, SPEC §9).

`markets_live_read` is what the dashboard, the admin and the monitoring API show of each
market: inventory, live orders and the AMM's best quotes, strategy state, config, oracle,
platform status and the runtime flags an operator cares about. One pipeline (not MULTI: each market's keys
are read one after the other, which is what a display needs) whatever the number of markets.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import json

import redis

from amm.enums import BookType, Side
import amm.state.keys as K
from amm.state.codec import parse_fields
from amm.state.connection import conn_or_default
from amm.state.strategy_state import config_with_defaults
from amm.state.values import inventory_from_hash

BID_BOOK_TYPES = (BookType.NATIVE_BUY.value, BookType.SYNTHETIC_BUY.value)
YES = Side.YES.value
PAIR_CENTS = 100  # a YES and a NO share pay 100 cents together

# The runtime fields worth showing (amm:runtime also holds the last decision's summary, larger).
LIVE_RUNTIME_FIELDS = ("resync", "resync_full", "retry_after_ms", "emergency_cause", "last_cycle_ms",
                       "last_outcome", "last_reason", "cycles")
LIVE_COMMANDS = 8  # commands queued per market by live_queue


def yes_view(order: Mapping[str, Any]) -> int:
    """An `amm:orders` entry's price in the YES view of the book (a NO order at q is 100 − q)."""
    price = int(order["price"])
    return price if order["side"] == YES else PAIR_CENTS - price


def is_bid(order: Mapping[str, Any]) -> bool:
    return order["book_type"] in BID_BOOK_TYPES


def best_quotes(orders: Iterable[Mapping[str, Any]]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """The AMM's best YES-view bid and ask among `amm:orders` entries (decoded JSON) as
    (price, remaining shares at that price), or None."""
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for order in orders:
        levels = bids if is_bid(order) else asks
        price = yes_view(order)
        levels[price] = levels.get(price, 0) + int(order["remaining"])
    bid = max(bids, default=None)
    ask = min(asks, default=None)
    return (None if bid is None else (bid, bids[bid])), (None if ask is None else (ask, asks[ask]))


def live_queue(pipe, market_id: str) -> None:
    """Queue one market's live reads (LIVE_COMMANDS commands) on a pipeline."""
    pipe.hgetall(K.inventory_key(market_id))
    pipe.hgetall(K.orders_key(market_id))
    pipe.hgetall(K.state_key(market_id))
    pipe.hgetall(K.market_key(market_id))
    pipe.hmget(K.runtime_key(market_id), LIVE_RUNTIME_FIELDS)
    pipe.hgetall(K.config_key(market_id))
    pipe.hgetall(K.oracle_key(market_id))
    pipe.get(K.CASH)  # the account's cash: the inventory's cash_cents


def live_parse(results: list) -> dict[str, Any]:
    inventory, orders_raw, state_raw, market, runtime, config, oracle, cash = results
    config = config_with_defaults(config)
    version = config.pop(K.CONFIG_VERSION_FIELD, None)
    # The stored JSON as is (OrderEntry fields plus order_id): a dataclass per order costs
    # more than the whole read for hundreds of markets.
    orders = [{"order_id": oid, **json.loads(value)} for oid, value in orders_raw.items()]
    orders.sort(key=lambda o: (0, -yes_view(o)) if is_bid(o) else (1, yes_view(o)))  # best bid first, then asks
    bid, ask = best_quotes(orders)
    return {
        "inventory": inventory_from_hash(inventory, cash).as_dict() if inventory else None,
        "orders": orders,
        "best_bid": None if bid is None else {"price": bid[0], "qty": bid[1]},
        "best_ask": None if ask is None else {"price": ask[0], "qty": ask[1]},
        "state": parse_fields(state_raw, K.STATE_FIELDS),
        "market": parse_fields(market, K.MARKET_FIELDS) if market else None,
        "runtime": parse_fields({k: v for k, v in zip(LIVE_RUNTIME_FIELDS, runtime) if v is not None},
                                K.RUNTIME_FIELDS),
        "config": config,  # `amm:config:{m}` as written (strings), without its version
        "config_version": None if version is None else int(version),
        "oracle": parse_fields(oracle, K.ORACLE_FIELDS) if oracle else None,
    }


def markets_live_read(market_ids: list[str], *, conn: redis.Redis | None = None) -> dict[str, dict]:
    """{market: live view} of every market named, in one round trip. A market Redis does not
    know comes back with `inventory` and `market` None and empty orders and state."""
    ids = list(market_ids)
    if not ids:
        return {}
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        live_queue(pipe, market_id)
    results = pipe.execute()
    n = LIVE_COMMANDS
    return {m: live_parse(results[n * i:n * i + n]) for i, m in enumerate(ids)}
