"""`amm:oracle:{m}` (the latest external probability, ORACLE_FIELDS) and
`amm:oracle_health:{m}` (the oracle poller's record of failures and back-off, amm/runtime/oracle_poll.py)."""
from __future__ import annotations

from typing import Any

import redis

import amm.state.keys as K
from amm.exceptions import InvalidInput
from amm.state.codec import parse_fields, parse_int
from amm.state.connection import conn_or_default
from amm.state.lua import script


def oracle_write(
    market_id: str, *, price_cents: float, ts_ms: int, source: str, conn: redis.Redis | None = None
) -> None:
    """The latest external probability (SPEC §4 extension `amm:oracle:{m}`), YES-view cents."""
    if not 0 <= float(price_cents) <= 100:
        raise InvalidInput(f"oracle price_cents must be within [0, 100], got {price_cents}")
    conn_or_default(conn).hset(
        K.oracle_key(market_id),
        mapping={"price_cents": repr(float(price_cents)), "ts_ms": str(int(ts_ms)), "source": str(source)},
    )


def oracle_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any] | None:
    raw = conn_or_default(conn).hgetall(K.oracle_key(market_id))
    return parse_fields(raw, K.ORACLE_FIELDS) if raw else None


def oracle_failure_record(market_id: str, *, error: str, now_ms: int, alert_after: int, interval_ms: int,
                          backoff_max_ms: int, conn: redis.Redis | None = None) -> tuple[int, bool, int]:
    """One more failed poll of the market's oracle (`amm:oracle_health:{m}`, atomically):
    (consecutive failures, whether this failure claims the run's one alert, retry_at_ms:
    the back-off, `interval_ms` doubling per failure up to `backoff_max_ms`)."""
    failures, claimed, retry_at = script(conn_or_default(conn), "oracle_failed")(
        keys=[K.oracle_health_key(market_id)],
        args=[str(error)[:500], int(now_ms), max(1, int(alert_after)), max(0, int(interval_ms)),
              max(0, int(backoff_max_ms))])
    return int(failures), bool(int(claimed)), int(retry_at)


def oracle_success_record(market_id: str, *, now_ms: int, conn: redis.Redis | None = None) -> int:
    """A good poll: the failure run ends (count, back-off and alert flag reset); returns the
    failures it ended (0 when there were none)."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.hget(K.oracle_health_key(market_id), "failures")
    pipe.hset(K.oracle_health_key(market_id),
              mapping={"failures": "0", "alerted": "0", "retry_at_ms": "0", "last_ok_ms": str(int(now_ms))})
    previous, _ = pipe.execute()
    return parse_int(previous)


def oracle_health_get(market_id: str, *, conn: redis.Redis | None = None) -> dict[str, Any]:
    """The poller's record of the market's oracle (ORACLE_HEALTH_FIELDS), {} before any poll."""
    return parse_fields(conn_or_default(conn).hgetall(K.oracle_health_key(market_id)), K.ORACLE_HEALTH_FIELDS)
