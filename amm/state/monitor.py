"""Monitoring reads (the monitoring API, the admin): many markets' working state, and what the
health check asks of Redis, each in one pipelined round trip whatever the number of markets.

Not MULTI/EXEC: a monitor needs no atomicity across markets, and each market's reads are
queued back to back, so one market's keys are read together as the quote cycle reads them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import redis

from amm.state import keys as K
from amm.state.store import InventoryView, OrderEntry, _conn, _int, _orders, _typed, now_ms

_READS_PER_MARKET = 7


@dataclass(frozen=True, slots=True)
class MarketLive:
    """One market's Redis working state: the seed keys (SPEC §4), its metadata and runtime flags."""

    market_id: str
    inventory: InventoryView
    orders: dict[str, OrderEntry]
    state: dict[str, Any]
    config: dict[str, str]  # `amm:config:{m}` as written (strings), without its version
    config_version: int | None
    oracle: dict[str, Any] | None
    market: dict[str, Any] | None
    runtime: dict[str, Any]
    read_at_ms: int = field(default_factory=now_ms)


def _queue(pipe, market_id: str) -> None:
    pipe.hgetall(K.inventory_key(market_id))
    pipe.hgetall(K.orders_key(market_id))
    pipe.hgetall(K.state_key(market_id))
    pipe.hgetall(K.config_key(market_id))
    pipe.hgetall(K.oracle_key(market_id))
    pipe.hgetall(K.market_key(market_id))
    pipe.hgetall(K.runtime_key(market_id))


def _parse(market_id: str, results: list, read_at_ms: int) -> MarketLive:
    inventory, orders, state, config, oracle, market, runtime = results
    config = dict(config)
    version = config.pop(K.CONFIG_VERSION_FIELD, None)
    return MarketLive(
        market_id=market_id,
        inventory=InventoryView.from_hash(inventory),
        orders=_orders(orders),
        state=_typed(state, K.STATE_FIELDS),
        config=config,
        config_version=_int(version) if version is not None else None,
        oracle=_typed(oracle, K.ORACLE_FIELDS) if oracle else None,
        market=_typed(market, K.MARKET_FIELDS) if market else None,
        runtime={name: value for name, value in _typed(runtime, K.RUNTIME_FIELDS).items()
                 if not name.startswith(K.INFLIGHT_PREFIX)},
        read_at_ms=read_at_ms,
    )


def markets_live_read(market_ids: list[str], *, conn: redis.Redis | None = None) -> dict[str, MarketLive]:
    """Inventory, live orders, state, config, oracle, market metadata and runtime flags of
    every market in `market_ids`, in one round trip (a page of the instances list)."""
    ids = list(dict.fromkeys(market_ids))
    if not ids:
        return {}
    pipe = _conn(conn).pipeline(transaction=False)
    for market_id in ids:
        _queue(pipe, market_id)
    results = pipe.execute()
    at = now_ms()
    n = _READS_PER_MARKET
    return {m: _parse(m, results[n * i:n * i + n], at) for i, m in enumerate(ids)}


@dataclass(frozen=True, slots=True)
class HealthRead:
    """The heartbeats the health check judges: the run's (`amm:run`: scheduler, fill feed,
    last cycle) and each market's last requote."""

    run: dict[str, Any]
    last_requote_ms: dict[str, int]
    read_at_ms: int


def health_read(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> HealthRead:
    """One round trip; raises redis.RedisError when Redis does not answer (the check fails)."""
    ids = list(dict.fromkeys(market_ids))
    pipe = _conn(conn).pipeline(transaction=False)
    pipe.hgetall(K.RUN)
    for market_id in ids:
        pipe.hget(K.state_key(market_id), "last_requote_ms")
    results = pipe.execute()
    return HealthRead(
        run=_typed(results[0], K.RUN_FIELDS),
        last_requote_ms={m: _int(value) for m, value in zip(ids, results[1:])},
        read_at_ms=now_ms(),
    )
