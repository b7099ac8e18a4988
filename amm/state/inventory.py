"""`amm:inventory:{m}` and what changes it from the fill feed: a trade's legs applied exactly
once (`fill_apply`, one Lua script with the dedup set `amm:processed:{m}`), and the reads
reconciliation and mint/burn decisions make of it. Placements and cancels hold and release
cash and shares in amm/state/tracked_orders.py; mints and burns in amm/state/mint_burn.py."""
from __future__ import annotations

from typing import Any

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.state.connection import conn_or_default
from amm.state.lua import script
from amm.state.order_journal import journal_maxlen
from amm.state.trade_cursor import trade_cursor_get
from amm.state.values import FillLeg, Inventory, inventory_from_hash


def inventory_get(market_id: str, *, conn: redis.Redis | None = None) -> Inventory:
    """The market's inventory (`exists` False when Redis keeps none for it), its cash the
    account's (`amm:cash`)."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.hgetall(K.inventory_key(market_id))
    pipe.get(K.CASH)
    return inventory_from_hash(*pipe.execute())


def cash_view(market_id: str, *, conn: redis.Redis | None = None) -> tuple[int | None, int]:
    """(this market's cash_cents or None, cash held by tracked BUY orders of every kept market)."""
    cash, held = script(conn_or_default(conn), "cash_view")(keys=[K.MARKETS, K.inventory_key(market_id)])
    cash = int(cash)
    return (None if cash == -1 else cash), int(held)


def fill_apply(
    market_id: str,
    *,
    trade_id: int | str,
    legs: list[FillLeg],
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> bool:
    """Apply one trade's AMM legs to inventory, cash and orders, exactly once (the trade id
    is checked against and added to `amm:processed:{m}` inside the same script)."""
    now = now_ms() if now is None else now
    args: list[Any] = [str(trade_id), int(now), K.PROCESSED_TTL_S, market_id, journal_maxlen(),
                       K.UNTRACKED_TTL_S, len(legs)]
    for leg in legs:
        args += [leg.order_id, leg.side, leg.direction, int(leg.own_price), int(leg.quantity), int(leg.fee),
                 leg.book_type]
    applied = script(conn_or_default(conn), "fill")(
        keys=[K.processed_key(market_id), K.inventory_key(market_id), K.orders_key(market_id),
              K.market_key(market_id), K.MARKETS, K.state_key(market_id), K.JOURNAL, K.untracked_key(market_id),
              K.TRADE_CURSOR, K.METRICS_FILLS],
        args=args,
    )
    return bool(applied)


# --- amm:processed: what was applied already ---------------------------------------------------
def processed_contains(market_id: str, member: str | int, *, conn: redis.Redis | None = None) -> bool:
    return bool(conn_or_default(conn).sismember(K.processed_key(market_id), str(member)))


def processed_trim(market_id: str, *, now: int, keep_trades: int = K.PROCESSED_KEEP_TRADES,
                   keep_ms: int = K.PROCESSED_TTL_S * 1000, batch: int = 1000,
                   conn: redis.Redis | None = None) -> int:
    """Drop what `amm:processed:{m}` no longer needs to remember, so an active market's set
    stays bounded (every fill refreshes the key's 24 h TTL, so it never expires whole):
    trade ids more than `keep_trades` below the durable cursor (the feed never delivers
    them again; a rewound cursor finds the newest ones still there) and mint/burn request
    ids older than `keep_ms` (their id carries the time they were sent). Incremental (SSCAN),
    never one long blocking command. Returns how many members were removed."""
    c = conn_or_default(conn)
    key = K.processed_key(market_id)
    below = trade_cursor_get(conn=c) - keep_trades
    oldest_ms = now - keep_ms
    removed = 0
    stale: list[str] = []
    for member in c.sscan_iter(key, count=batch):
        if member.isdigit():
            if int(member) <= below:
                stale.append(member)
        elif member.startswith(("mint:", "burn:")):
            parts = member.rsplit("_", 2)  # ..._{timestamp_ms}_{seq}; a wind-down burn id has no time
            if len(parts) == 3 and parts[1].isdigit() and len(parts[1]) >= 12 and int(parts[1]) < oldest_ms:
                stale.append(member)
        if len(stale) >= batch:
            removed += c.srem(key, *stale)
            stale = []
    if stale:
        removed += c.srem(key, *stale)
    return removed
