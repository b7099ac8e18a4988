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


# --- the instance row's version (written by amm/services/instances.py, read by the cycle) -------
def instance_version_pending(market_id: str, *, now: int, conn: redis.Redis | None = None) -> None:
    """Before a change of the instance row: `instance_version` = "pending:{now}". A cycle
    holds the row it read only while this field equals the row's version, so until the
    change's own version replaces it (after the commit, `instance_mirror`) every cycle reads
    the row: a writer that dies between its commit and that write leaves no cycle on a stale row."""
    conn_or_default(conn).hset(K.runtime_key(market_id), "instance_version", f"{K.INSTANCE_PENDING}:{now}")


def instance_mirror(market_id: str, *, version: str, state_fields: Mapping[str, Any] | None = None,
                    conn: redis.Redis | None = None) -> None:
    """After a change of the instance row committed: its new version and the `amm:state`
    fields mirrored from it (kill switch, phase, defense level), in one MULTI/EXEC."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    if state_fields:
        unknown = set(state_fields) - set(K.STATE_FIELDS)
        if unknown:
            raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
        pipe.hset(K.state_key(market_id), mapping={n: field_text(n, v, K.STATE_FIELDS) for n, v in state_fields.items()})
    pipe.hset(K.runtime_key(market_id), "instance_version", version)
    pipe.execute()


def instance_version_drop(market_id: str, *, conn: redis.Redis | None = None) -> None:
    """A change announced by `instance_version_pending` did not happen (refused, rolled
    back): the field removed, so that the next cycle reads the row and writes its version back."""
    conn_or_default(conn).hdel(K.runtime_key(market_id), "instance_version")


def instance_version_seed(market_id: str, version: str, *, conn: redis.Redis | None = None) -> bool:
    """A cycle found no `instance_version` (a new market, Redis lost it, a dropped change):
    the version of the row it has just read, unless a writer wrote one meanwhile (HSETNX)."""
    return bool(conn_or_default(conn).hsetnx(K.runtime_key(market_id), "instance_version", version))
