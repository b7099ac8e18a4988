"""`amm:pushbook:{m}`: each driven market's order book as the WebSocket book feed keeps it
(amm/runtime/book_feed.py, in run_amm's process), for the quote cycles in the RQ workers;
`amm:pushbook:alive`: the feed's heartbeat. A market's key is deleted as soon as its feed is
unhealthy (a sequence gap, a lost connection): a cycle reads the platform's book over REST
instead until a new snapshot is written."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.state.connection import conn_or_default
from amm.state.lua import script
from amm.state.packing import push_book_text, push_book_value


def push_book_write(market_id: str, book: Mapping[str, Any], *, now: int, conn: redis.Redis | None = None) -> bool:
    """The market's book (`sequence_id`, `bids`, `asks`: [[price, qty]] best first, depth-capped
    by the caller), as received at `now`; not written over a newer one (push_books_write)."""
    return push_books_write({market_id: book}, now=now, conn=conn) == 1


def push_books_write(books: Mapping[str, Mapping[str, Any]], *, now: int, conn: redis.Redis | None = None) -> int:
    """Several markets' books in one round trip, each only over an older one: the WebSocket feed
    and the event feed (deltas from `book_events`) both write them. Returns how many were written."""
    if not books:
        return 0
    keys, args = [], []
    for market_id, book in books.items():
        keys.append(K.push_book_key(market_id))
        args += [push_book_text({"sequence_id": int(book["sequence_id"]), "ms": int(now),
                                 "bids": [list(level) for level in book["bids"]],
                                 "asks": [list(level) for level in book["asks"]]}),
                 int(book["sequence_id"])]
    client = conn_or_default(conn)
    return int(script(client, "push_books_forward")(keys=keys, args=args, client=client))


def push_books_get(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> dict[str, dict[str, Any] | None]:
    """The stored books of these markets, as push_book_write left them (None: none kept)."""
    ids = list(market_ids)
    if not ids:
        return {}
    return {m: push_book_value(raw) for m, raw in zip(ids, conn_or_default(conn).mget([K.push_book_key(m) for m in ids]))}


def push_book_drop(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> None:
    keys = [K.push_book_key(m) for m in market_ids]
    if keys:
        conn_or_default(conn).delete(*keys)


def push_book_alive(now: int, *, conn: redis.Redis | None = None) -> None:
    conn_or_default(conn).set(K.PUSH_BOOK_ALIVE, int(now), px=60_000)


def push_book_parse(raw: str | None, alive: str | None, *, now: int, max_age_ms: int) -> tuple[dict | None, str]:
    """(the pushed book when usable, the feed's state): "off" when no book feed runs (no
    heartbeat for a minute: push is not in use), "stale" when its heartbeat is older than
    `max_age_ms` (the feed died or hangs), "missing" when it runs but has no healthy book of
    this market, "ok". A quiet book stays right while its connection is up, so only the
    heartbeat, not the book's own age, decides."""
    if alive is None:
        return None, "off"
    if now - int(alive) > max_age_ms:
        return None, "stale"
    if raw is None:
        return None, "missing"
    return push_book_value(raw), "ok"
