"""Recovery and housekeeping of whole markets: overwrite one market from a platform snapshot
(`market_rebuild`, one Lua script guarded by the fill-feed cursor and the cash epoch), stop
keeping one (`market_forget`), wipe a working state that is not this platform's, and measure
a market's memory."""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.conf import amm_settings
from amm.exceptions import InvalidInput
from amm.state.codec import field_text
from amm.state.connection import conn_or_default
from amm.state.lua import script
from amm.state.market import market_meta_text
from amm.state.values import OrderEntry


def market_rebuild(
    market_id: str,
    *,
    yes_volume: int,
    yes_cost_sum: int,
    yes_pending_sell: int,
    no_volume: int,
    no_cost_sum: int,
    no_pending_sell: int,
    cash_mode: str,
    cash_value: int,
    market_meta: Mapping[str, Any],
    orders: Iterable[OrderEntry],
    state: Mapping[str, Any] | None = None,
    state_defaults: Mapping[str, Any] | None = None,
    expected_cursor: int,
    expected_epoch: int | None = None,
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> int | None:
    """Overwrite one market's inventory, orders and metadata from a platform snapshot that
    reflects exactly the trades <= `expected_cursor`, and register it in `amm:markets`;
    the account's cash (`amm:cash`, the `cash_cents` every kept market reads) is set (see
    lua.REBUILD). The position arguments are the
    platform's (connector.Position); the script derives the inventory fields from them.
    Returns the cash_cents written, or None when the fill feed moved past `expected_cursor`,
    or (with `expected_epoch`, the cash epoch when the snapshot began) a mint/burn is in
    flight or was applied meanwhile: take a new snapshot."""
    if cash_mode not in ("available", "total"):
        raise InvalidInput("cash_mode must be 'available' or 'total'")
    now = now_ms() if now is None else now
    unknown = (set(state or {}) | set(state_defaults or {})) - set(K.STATE_FIELDS)
    if unknown:
        raise InvalidInput(f"not fields of amm:state: {sorted(unknown)}")
    meta = market_meta_text(market_meta)
    meta["updated_at_ms"] = str(int(now))
    pairs: list[str] = []
    entries = list(orders)
    for entry in entries:
        pairs += [entry.order_id, entry.to_json()]
    outcome, cash = script(conn_or_default(conn), "rebuild")(
        keys=[K.inventory_key(market_id), K.orders_key(market_id), K.state_key(market_id), K.market_key(market_id),
              K.MARKETS, K.untracked_key(market_id), K.TRADE_CURSOR, K.PRIVILEGED_PENDING, K.CASH_EPOCH],
        args=[market_id, int(now), int(yes_volume), int(yes_cost_sum), int(yes_pending_sell), int(no_volume),
              int(no_cost_sum), int(no_pending_sell), cash_mode, int(cash_value), json.dumps(meta),
              json.dumps({k: field_text(k, v, K.STATE_FIELDS) for k, v in (state or {}).items()}),
              json.dumps({k: field_text(k, v, K.STATE_FIELDS) for k, v in (state_defaults or {}).items()}),
              int(expected_cursor), len(entries), *pairs, "" if expected_epoch is None else int(expected_epoch),
              amm_settings.AMM_PRIVILEGED_PENDING_MAX_MS],
    )
    runtime_compact(market_id, conn=conn)
    return int(cash) if outcome == "ok" else None


def runtime_compact(market_id: str, *, conn: redis.Redis | None = None) -> bool:
    """Drop what older versions kept of the market's runtime state (K.LEGACY_RUNTIME_FIELDS in
    `amm:runtime:{m}`, the list tape `amm:tape:{m}`), so that the hash is compact again: done
    by every rebuild (each run's startup sync); True when the hash was rewritten."""
    return bool(script(conn_or_default(conn), "runtime_compact")(
        keys=[K.runtime_key(market_id), K.legacy_tape_key(market_id)], args=list(K.LEGACY_RUNTIME_FIELDS)))


def market_forget(market_id: str, *, conn: redis.Redis | None = None) -> None:
    """Stop keeping a market: drop it from `amm:markets` and delete its working keys."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.srem(K.MARKETS, market_id)
    pipe.delete(*K.market_keys(market_id))
    pipe.execute()


def working_state_wipe(*, keep: Iterable[str] = (), conn: redis.Redis | None = None) -> int:
    """Delete every `amm:*` key but those in `keep` (a working state that is not this
    platform's); returns how many."""
    client = conn_or_default(conn)
    kept = set(keep)
    deleted = 0
    batch: list[str] = []
    for key in client.scan_iter(match=f"{K.PREFIX}:*", count=1000):
        if key in kept:
            continue
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


def market_memory_usage(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, int]:
    """MEMORY USAGE of each existing key of one market (bytes)."""
    client = conn_or_default(conn)
    out = {}
    for key in K.market_keys(market_id):
        usage = client.memory_usage(key, samples=0)
        if usage is not None:
            out[key] = int(usage)
    return out
