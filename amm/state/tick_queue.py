"""Periodic quote cycles handed to the workers' tick lanes (amm/runtime/tick_lane.py) without
an RQ job: `amm:ticks`, a list of batches (the scheduler pushes, a lane pops), and
`amm:tick_lanes`, the lanes alive by their heartbeats. A batch's markets hold their job
markers (amm/state/job_markers.py) from the push until each market's cycle ends, as a queued
RQ job's do."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable

import redis

import amm.state.keys as K
from amm.state.connection import conn_or_default
from amm.state.lua import script


@dataclass(frozen=True)
class TickBatch:
    enqueued_ms: int
    reason: str
    market_ids: list[str]


def ticks_request(names: list[str], market_ids: list[str], prefix: str, *, batch_size: int, reason: str,
                  ttl_ms: int, now_ms: int, conn: redis.Redis | None = None) -> int:
    """Claim the markers `names` (one per market of `market_ids`, a market whose cycle is queued
    or running left alone) and push the markets taken onto `amm:ticks`, `batch_size` a batch,
    in one atomic step. Returns the number of markets pushed."""
    if not names:
        return 0
    return int(script(conn_or_default(conn), "ticks_request")(
        keys=[K.TICKS, *(K.job_key(name) for name in names)],
        args=[prefix, int(ttl_ms), max(1, int(batch_size)), int(now_ms), reason or "tick", *market_ids]))


def ticks_pop(timeout_s: float | None, *, conn: redis.Redis | None = None) -> TickBatch | None:
    """The oldest batch waiting, waiting up to `timeout_s` for one (None: do not wait); None
    when none came."""
    client = conn_or_default(conn)
    if timeout_s is None:
        raw = client.lpop(K.TICKS)
    else:
        got = client.blpop([K.TICKS], timeout=timeout_s)
        raw = got[1] if got is not None else None
    return None if raw is None else _batch(raw)


def ticks_oldest_ms(*, conn: redis.Redis | None = None) -> int | None:
    """When the oldest batch waiting was pushed (None: none waits)."""
    raw = conn_or_default(conn).lindex(K.TICKS, 0)
    return None if raw is None else _batch(raw).enqueued_ms


def _batch(raw: str) -> TickBatch:
    enqueued_ms, reason, market_ids = json.loads(raw)
    return TickBatch(int(enqueued_ms), str(reason), [str(m) for m in market_ids or []])


def ticks_waiting(*, conn: redis.Redis | None = None) -> int:
    return int(conn_or_default(conn).llen(K.TICKS))


def tick_lane_beat(name: str, now_ms: int, *, conn: redis.Redis | None = None) -> None:
    conn_or_default(conn).zadd(K.TICK_LANES, {name: int(now_ms)})


def tick_lane_gone(name: str, *, conn: redis.Redis | None = None) -> None:
    conn_or_default(conn).zrem(K.TICK_LANES, name)


def tick_lanes_alive(now_ms: int, *, max_age_ms: int, conn: redis.Redis | None = None) -> int:
    """Lanes whose heartbeat is at most `max_age_ms` old (older ones, dead, are dropped)."""
    pipe = conn_or_default(conn).pipeline(transaction=True)
    pipe.zremrangebyscore(K.TICK_LANES, "-inf", f"({int(now_ms) - int(max_age_ms)}")
    pipe.zcard(K.TICK_LANES)
    return int(pipe.execute()[1])


def tick_lane_names(*, conn: redis.Redis | None = None) -> Iterable[str]:
    return conn_or_default(conn).zrange(K.TICK_LANES, 0, -1)
