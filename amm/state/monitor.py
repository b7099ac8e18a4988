"""What the health check asks of Redis, in one pipelined round trip whatever the number of
markets (the markets' live state is amm/state/live.py's `markets_live_read`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.state.codec import parse_fields, parse_int
from amm.state.connection import conn_or_default


@dataclass(frozen=True, slots=True)
class HealthRead:
    """The heartbeats the health check judges: the run's (`amm:run`: scheduler, fill feed,
    last cycle) and each market's last requote."""

    run: dict[str, Any]
    last_requote_ms: dict[str, int]
    read_at_ms: int


def health_read(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> HealthRead:
    """One round trip; raises redis.RedisError when Redis does not answer (the check fails)."""
    ids = list(dict.fromkeys(market_ids))
    pipe = conn_or_default(conn).pipeline(transaction=False)
    pipe.hgetall(K.RUN)
    for market_id in ids:
        pipe.hget(K.state_key(market_id), "last_requote_ms")
    results = pipe.execute()
    return HealthRead(
        run=parse_fields(results[0], K.RUN_FIELDS),
        last_requote_ms={m: parse_int(value) for m, value in zip(ids, results[1:])},
        read_at_ms=now_ms(),
    )
