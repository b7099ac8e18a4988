"""`amm:market:{m}` (the platform's market metadata the fee math and the strategy need,
MARKET_FIELDS) and `amm:markets` (the markets whose inventory this AMM keeps)."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import redis

import amm.state.keys as K
from amm.state.codec import field_text, parse_fields
from amm.state.connection import conn_or_default
from amm.state.packing import trade_text


def market_meta_text(meta: Mapping[str, Any]) -> dict[str, str]:
    """Market metadata as stored; None values are left out (the field keeps what it held)."""
    return {k: field_text(k, v, K.MARKET_FIELDS) for k, v in meta.items() if v is not None}


def market_meta_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any] | None:
    raw = conn_or_default(conn).hgetall(K.market_key(market_id))
    return parse_fields(raw, K.MARKET_FIELDS) if raw else None


def market_meta_write(market_id: str, meta: Mapping[str, Any], *, conn: redis.Redis | None = None) -> None:
    """Refresh the market metadata hash (e.g. after a status change seen by the runtime)."""
    mapping = market_meta_text(meta)
    if mapping:
        conn_or_default(conn).hset(K.market_key(market_id), mapping=mapping)


def market_status_write_many(metas: Mapping[str, Mapping[str, Any]], *, conn: redis.Redis | None = None) -> None:
    """Refresh the metadata of many markets in one round trip (the feed's status watch)."""
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id, meta in metas.items():
        mapping = market_meta_text(meta)
        if mapping:
            pipe.hset(K.market_key(market_id), mapping=mapping)
    pipe.execute()


def market_status_many(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> dict[str, str | None]:
    ids = list(market_ids)
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hget(K.market_key(market_id), "status")
    return dict(zip(ids, pipe.execute()))


def markets_kept(*, conn: redis.Redis | None = None) -> set[str]:
    """Markets whose inventory this AMM keeps in Redis (`amm:markets`)."""
    return set(conn_or_default(conn).smembers(K.MARKETS))


def market_push_refresh(vouched: Iterable[str], sequences: Mapping[str, int], *, now: int,
                        tapes: Mapping[str, list[Mapping[str, Any]]] | None = None,
                        conn: redis.Redis | None = None) -> None:
    """While the platform's event stream is read (amm/runtime/event_feed.py), in one round
    trip: the statuses of the `vouched` markets are current as of `now` (a change would have
    come as a market event), their books' sequence ids are those of the latest book and trade
    events (`sequences`), their public trades (`tapes`, oldest first) are added to the capped
    tapes the cycles read with a pushed book (a trade brought twice is kept once: its id is
    its score and its text the member), and the feed's heartbeat says the tapes are kept."""
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in vouched:
        mapping = {"updated_at_ms": str(int(now))}
        if market_id in sequences:
            mapping["book_sequence_id"] = str(int(sequences[market_id]))
        pipe.hset(K.market_key(market_id), mapping=mapping)
    for market_id, trades in (tapes or {}).items():
        key = K.tape_key(market_id)
        if trades:
            pipe.zadd(key, {trade_text(t): int(t["id"]) for t in trades})
            pipe.zremrangebyrank(key, 0, -K.TAPE_KEEP - 1)  # the newest TAPE_KEEP ids
    pipe.set(K.EVENTS_ALIVE, int(now), px=60_000)
    pipe.execute()
