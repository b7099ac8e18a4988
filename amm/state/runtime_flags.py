"""`amm:runtime:{m}` (the runtime's per-market flags and last cycle, RUNTIME_FIELDS), the
traces of order calls on their way to the platform (`inflight:{token}` fields of the same
hash), re-sync requests, and `amm:fills:{m}` (fills the feed hands to the next cycle)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.exceptions import InvalidInput
from amm.state.codec import field_text, parse_fields
from amm.state.connection import conn_or_default
from amm.state.packing import fill_text


def runtime_fields_text(fields: Mapping[str, Any]) -> dict[str, str]:
    """`amm:runtime` fields as stored; None clears a flag (stored as "")."""
    unknown = set(fields) - set(K.RUNTIME_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:runtime: {sorted(unknown)}")
    return {n: ("" if v is None else field_text(n, v, K.RUNTIME_FIELDS)) for n, v in fields.items()}


def runtime_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any]:
    return parse_fields(conn_or_default(conn).hgetall(K.runtime_key(market_id)), K.RUNTIME_FIELDS)


def runtime_update(market_id: str, *, conn: redis.Redis | None = None, **fields: Any) -> None:
    """HSET `amm:runtime:{m}` fields (None or "" clears a flag)."""
    if fields:
        conn_or_default(conn).hset(K.runtime_key(market_id), mapping=runtime_fields_text(fields))


def resync_request(market_ids: Iterable[str], *, reason: str, full: bool = False,
                   conn: redis.Redis | None = None) -> None:
    """Ask the next quote cycle of each market to re-sync from the platform before quoting."""
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in market_ids:
        pipe.hset(K.runtime_key(market_id), "resync_full" if full else "resync", reason or "resync")
    pipe.execute()


# --- order calls in flight ---------------------------------------------------------------------
def order_call_begin(market_id: str, *, token: str, what: str, now: int,
                     conn: redis.Redis | None = None) -> None:
    """Record an order call about to be sent (`inflight:{token}`), so that a holder dying
    before the answer leaves a trace the next cycle turns into an unknown outcome."""
    conn_or_default(conn).hset(K.runtime_key(market_id), f"{K.INFLIGHT_PREFIX}{token}", f"{what}@{now}")


def order_calls_end(market_id: str, tokens: Iterable[str], *, conn: redis.Redis | None = None,
                    **fields: Any) -> None:
    """The calls answered (or their outcome is now recorded as unknown): drop their traces and
    set `fields` of amm:runtime in the same transaction."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.hdel(K.runtime_key(market_id), *(f"{K.INFLIGHT_PREFIX}{t}" for t in tokens))
    if fields:
        pipe.hset(K.runtime_key(market_id), mapping=runtime_fields_text(fields))
    pipe.execute()


def order_calls_in_flight(runtime: Mapping[str, Any]) -> dict[str, str]:
    """The `inflight:{token}` fields of a runtime read: token -> "what@ms"."""
    return {name[len(K.INFLIGHT_PREFIX):]: str(value) for name, value in runtime.items()
            if name.startswith(K.INFLIGHT_PREFIX)}


# --- fills handed to the next cycle --------------------------------------------------------------
def fills_push(market_id: str, fills: Iterable[Mapping[str, Any]], *, conn: redis.Redis | None = None) -> int:
    """Queue fills for the market's next quote cycle (the strategy's L3 and phase volume);
    `runtime_cycle_read` takes them. The list keeps the newest FILLS_KEEP."""
    items = [fill_text(f) for f in fills]
    if not items:
        return 0
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.rpush(K.fills_key(market_id), *items)
    pipe.ltrim(K.fills_key(market_id), -K.FILLS_KEEP, -1)
    pipe.execute()
    return len(items)
