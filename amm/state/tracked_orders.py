"""`amm:orders:{m}` (the AMM's live orders, as the platform's REST answers reported them) and
`amm:untracked_fills:{m}` (fills the feed applied before their order was tracked). Tracking
an order holds its cash or shares in `amm:inventory:{m}`; untracking releases them; both
journal the event (one Lua script each)."""
from __future__ import annotations

from typing import Iterable

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.state.connection import conn_or_default
from amm.state.lua import script
from amm.state.order_journal import journal_maxlen
from amm.state.values import OrderEntry, orders_from_hash


def orders_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, OrderEntry]:
    return orders_from_hash(conn_or_default(conn).hgetall(K.orders_key(market_id)))


def orders_settled(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, OrderEntry] | None:
    """The tracked orders, or None while an order call of the market is in flight (an
    `inflight:` trace in amm:runtime): its answer not recorded yet, the platform's book may
    already hold orders that `amm:orders` does not, or still list ones it no longer holds.
    One MULTI, so the orders and the traces are of one moment (an answer is recorded before
    its trace is dropped)."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.hgetall(K.orders_key(market_id))
    pipe.hkeys(K.runtime_key(market_id))
    orders, fields = pipe.execute()
    if any(field.startswith(K.INFLIGHT_PREFIX) for field in fields):
        return None
    return orders_from_hash(orders)


def order_track(
    market_id: str,
    *,
    order_id: str,
    side: str,
    direction: str,
    price: int,
    qty: int,
    book_type: str,
    created_ms: int,
    client_order_id: str = "",
    status: str = "OPEN",
    track: bool = True,
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> int:
    """Record a placement: when `track` (the order rests), HSET it into `amm:orders` and hold
    its cash or shares; always journal it. Returns the remaining quantity tracked (0 when it
    was already tracked or is fully filled already). Idempotent."""
    now = now_ms() if now is None else now
    return int(
        script(conn_or_default(conn), "track")(
            keys=[K.orders_key(market_id), K.inventory_key(market_id), K.market_key(market_id), K.MARKETS,
                  K.JOURNAL, K.untracked_key(market_id)],
            args=[order_id, side, direction, int(price), int(qty), book_type, int(created_ms), int(now),
                  "1" if track else "0", client_order_id, status, market_id, journal_maxlen()],
        )
    )


def orders_untrack(
    market_id: str,
    order_ids: Iterable[str] | None,
    *,
    event: str = "CANCELLED",
    now: int | None = None,
    conn: redis.Redis | None = None,
) -> int:
    """Stop tracking orders (cancel, replace, passive cancel; None = all, as after cancel-all):
    HDEL them and release what they held. Returns how many were tracked. Idempotent."""
    ids = ["*"] if order_ids is None else [str(i) for i in order_ids]
    if not ids:
        return 0
    now = now_ms() if now is None else now
    return int(
        script(conn_or_default(conn), "untrack")(
            keys=[K.orders_key(market_id), K.inventory_key(market_id), K.market_key(market_id), K.MARKETS,
                  K.JOURNAL],
            args=[int(now), event, market_id, journal_maxlen(), *ids],
        )
    )


def untracked_fills_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, int]:
    return {oid: int(v) for oid, v in conn_or_default(conn).hgetall(K.untracked_key(market_id)).items()}


def untracked_fills_prune(market_id: str, *, keep: Iterable[str], conn: redis.Redis | None = None) -> int:
    """Forget untracked fills of orders that can no longer be tracked (not open on the platform)."""
    client = conn_or_default(conn)
    keep = set(keep)
    stale = [oid for oid in client.hkeys(K.untracked_key(market_id)) if oid not in keep]
    return client.hdel(K.untracked_key(market_id), *stale) if stale else 0
