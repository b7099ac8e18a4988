"""What the strategy keeps and is configured by, per market: `amm:state:{m}` (seed §4.3,
STATE_FIELDS), the StrategyState blob `amm:strategy:{m}` kept between cycles, and
`amm:config:{m}` (StrategyConfig.as_redis_mapping() plus its version; compact: config_write)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.exceptions import InvalidInput
from amm.state.codec import field_text, parse_fields
from amm.state.strategy_codec import strategy_parse
from amm.state.connection import conn_or_default
from amm.strategy.config import SEED_PARAMETERS, StrategyConfig

_DEFAULTS = StrategyConfig().as_redis_mapping()  # what an omitted parameter of `amm:config:{m}` is
_ALWAYS = frozenset(SEED_PARAMETERS)


# --- amm:state ---------------------------------------------------------------------------------
def state_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any]:
    return parse_fields(conn_or_default(conn).hgetall(K.state_key(market_id)), K.STATE_FIELDS)


def state_fields_many(market_ids: Iterable[str], fields: list[str], *,
                      conn: redis.Redis | None = None) -> dict[str, dict[str, str | None]]:
    """Some `amm:state` fields of many markets in one round trip, raw: {market: {field: value}}."""
    ids = list(market_ids)
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hmget(K.state_key(market_id), fields)
    return {m: dict(zip(fields, values)) for m, values in zip(ids, pipe.execute() if ids else [])}


def state_update(market_id: str, *, conn: redis.Redis | None = None, **fields: Any) -> None:
    """HSET the given `amm:state:{m}` fields; names and types are those of seed §4.3 only."""
    unknown = set(fields) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    if fields:
        conn_or_default(conn).hset(K.state_key(market_id),
                                   mapping={n: field_text(n, v, K.STATE_FIELDS) for n, v in fields.items()})


def state_increment(market_id: str, *, conn: redis.Redis | None = None, **deltas: int) -> None:
    """HINCRBY integer state counters (daily_pnl_cents, total_fills_today)."""
    bad = [n for n in deltas if K.STATE_FIELDS.get(n) is not int]
    if bad:
        raise InvalidInput(f"not integer fields of amm:state: {bad}")
    pipe = conn_or_default(conn).pipeline(transaction=True)
    for name, delta in deltas.items():
        pipe.hincrby(K.state_key(market_id), name, int(delta))
    pipe.execute()


# --- amm:strategy (written by cycle_commit) ----------------------------------------------------
def strategy_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any] | None:
    return strategy_parse(conn_or_default(conn).get(K.strategy_key(market_id)), market_id)


# --- amm:config --------------------------------------------------------------------------------
def config_write(
    market_id: str, mapping: Mapping[str, str], *, version: int, conn: redis.Redis | None = None
) -> None:
    """Replace `amm:config:{m}` with `mapping` plus `version`, atomically. Kept compact (Redis
    memory per market, issue 15): the seed's 14 parameters always, the others only where they
    differ from StrategyConfig's default; every reader below fills the defaults back in."""
    compact = {name: str(value) for name, value in mapping.items()
               if name in _ALWAYS or _DEFAULTS.get(name) != str(value)}
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.delete(K.config_key(market_id))
    pipe.hset(K.config_key(market_id), mapping={**compact, K.CONFIG_VERSION_FIELD: str(int(version))})
    pipe.execute()


def config_with_defaults(raw: dict[str, str]) -> dict[str, str]:
    """A hash as written (compact) with the omitted parameters at their defaults; {} stays {}
    (no config published: the config reload republishes it from the database)."""
    return {**_DEFAULTS, **raw} if raw else raw


def config_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, str]:
    """`amm:config:{m}`: every parameter (defaults filled in) and its version; {} if absent."""
    return config_with_defaults(conn_or_default(conn).hgetall(K.config_key(market_id)))


def config_fields_many(market_ids: Iterable[str], fields: list[str], *,
                       conn: redis.Redis | None = None) -> dict[str, dict[str, str | None]]:
    """Some config fields of many markets in one round trip: {market: {field: raw value}};
    None for a market without a published config."""
    ids = list(market_ids)
    if not ids:
        return {}
    asked = [*fields, K.CONFIG_VERSION_FIELD]
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hmget(K.config_key(market_id), asked)
    out = {}
    for market_id, values in zip(ids, pipe.execute()):
        published = values[-1] is not None
        out[market_id] = {name: value if value is not None or not published else _DEFAULTS.get(name)
                          for name, value in zip(fields, values)}
    return out


def config_version(market_id: str, *, conn: redis.Redis | None = None) -> int | None:
    value = conn_or_default(conn).hget(K.config_key(market_id), K.CONFIG_VERSION_FIELD)
    return None if value is None else int(value)
