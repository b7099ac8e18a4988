"""What the running AMM records about itself, not about one market: the dead man's switch as
it last armed it (`amm:deadman`), the run's heartbeats (`amm:run`), the markets the
scheduler drives (`amm:run:markets`), and the day of the last daily counter reset
(`amm:daily_reset`)."""
from __future__ import annotations

from typing import Any, Iterable

import redis

import amm.state.keys as K
from amm.state.codec import field_text, parse_fields
from amm.state.connection import conn_or_default


# --- the dead man's switch ---------------------------------------------------------------------
def deadman_get(*, conn: redis.Redis | None = None) -> dict[str, Any]:
    return parse_fields(conn_or_default(conn).hgetall(K.DEADMAN), K.DEADMAN_FIELDS)


def deadman_record(*, armed_at_ms: int, timeout_ms: int, conn: redis.Redis | None = None) -> None:
    """After a successful arm sent at `armed_at_ms`: the platform cancels everything at
    `armed_at_ms + timeout_ms` at the earliest (its own clock starts later); 0 = disarmed."""
    if timeout_ms <= 0:
        conn_or_default(conn).delete(K.DEADMAN)
        return
    conn_or_default(conn).hset(K.DEADMAN, mapping={"armed_at_ms": str(int(armed_at_ms)),
                                                   "timeout_ms": str(int(timeout_ms)),
                                                   "armed_until_ms": str(int(armed_at_ms + timeout_ms))})


# --- the run -----------------------------------------------------------------------------------
def run_get(*, conn: redis.Redis | None = None) -> dict[str, Any]:
    return parse_fields(conn_or_default(conn).hgetall(K.RUN), K.RUN_FIELDS)


def run_update(*, conn: redis.Redis | None = None, **fields: int) -> None:
    if fields:
        conn_or_default(conn).hset(K.RUN, mapping={n: field_text(n, v, K.RUN_FIELDS) for n, v in fields.items()})


def run_markets_set(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> None:
    ids = list(market_ids)
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.delete(K.RUN_MARKETS)
    if ids:
        pipe.sadd(K.RUN_MARKETS, *ids)
    pipe.execute()


def run_markets_get(*, conn: redis.Redis | None = None) -> set[str]:
    return set(conn_or_default(conn).smembers(K.RUN_MARKETS))


# --- the daily reset ---------------------------------------------------------------------------
def daily_reset_apply(day: str, market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> bool:
    """Zero `daily_pnl_cents` and `total_fills_today` of the markets, once per local `day`
    (YYYY-MM-DD): False when that day was already reset. The first day ever is only recorded."""
    client = conn_or_default(conn)
    previous = client.set(K.DAILY_RESET, day, get=True)
    if previous is None or previous >= day:
        if previous is not None and previous > day:
            client.set(K.DAILY_RESET, previous)  # a later day was recorded: never move back
        return False
    pipe = client.pipeline(transaction=True)
    for market_id in market_ids:
        pipe.hset(K.state_key(market_id), mapping={"daily_pnl_cents": "0", "total_fills_today": "0"})
    pipe.execute()
    return True


def daily_reset_day(*, conn: redis.Redis | None = None) -> str | None:
    return conn_or_default(conn).get(K.DAILY_RESET)
