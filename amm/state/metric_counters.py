"""The metric counters in Redis and what the Prometheus scrape reads (issue 11, amm/prometheus_metrics.py):
every market's inventory, live orders and `amm:state`, the fills counter and the
cycle-latency histogram, in one pipelined round trip whatever the number of markets.

The counters are written on the hot path inside commands already sent (keys.py, "metrics
extensions"): `cycle_commit` / `cycle_end` / `cycle_close` count a cycle's latency (`cycle_latency_counts`),
the fill script a fill.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import redis

import amm.state.keys as K
from amm.clock import now_ms
from amm.exceptions import InvalidInput
from amm.state.codec import parse_fields
from amm.state.connection import conn_or_default
from amm.state.values import Inventory, OrderEntry, inventory_from_hash, orders_from_hash


def cycle_latency_counts(outcome: str, latency_s: float) -> tuple[str, str, int]:
    """One cycle's latency as counted in the `outcome`'s histogram: (bucket field, sum field,
    µs to add to the sum), for the script a cycle's end sends anyway (lua.CYCLE_CLOSE)."""
    if not outcome or ":" in outcome:
        raise InvalidInput(f"a cycle latency needs an outcome without ':', got {outcome!r}")
    bucket, total = K.cycle_latency_fields(outcome, latency_s)
    return bucket, total, max(0, int(round(latency_s * 1_000_000)))


@dataclass(frozen=True, slots=True)
class MarketMetricsRead:
    market_id: str
    inventory: Inventory
    orders: dict[str, OrderEntry]
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """One outcome's cycle latencies: cumulative buckets `(le, count)` ending with +Inf, the
    sum in seconds and the count (the +Inf bucket's)."""

    outcome: str
    buckets: list[tuple[str, int]]
    sum_s: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]

    @classmethod
    def empty(cls, outcome: str) -> "LatencyHistogram":
        return cls(outcome, [(le, 0) for le in _BUCKET_NAMES], 0.0)


_BUCKET_NAMES = (*(repr(b) for b in K.CYCLE_LATENCY_BUCKETS_S), K.CYCLE_LATENCY_INF)


@dataclass(frozen=True, slots=True)
class MetricsRead:
    markets: dict[str, MarketMetricsRead]
    fills_total: dict[str, int]  # market_id -> fills applied (counter)
    cycle_latency: dict[str, LatencyHistogram]  # outcome -> histogram
    read_at_ms: int = field(default_factory=now_ms)


def _histograms(raw: dict[str, str]) -> dict[str, LatencyHistogram]:
    per_outcome: dict[str, dict[str, int]] = {}
    for name, value in raw.items():
        outcome, _, le = name.rpartition(":")
        if outcome:
            per_outcome.setdefault(outcome, {})[le] = int(value)
    out = {}
    for outcome, fields in sorted(per_outcome.items()):
        running, buckets = 0, []
        for le in _BUCKET_NAMES:
            running += fields.get(le, 0)
            buckets.append((le, running))
        out[outcome] = LatencyHistogram(outcome, buckets, fields.get(K.CYCLE_LATENCY_SUM, 0) / 1_000_000)
    return out


def metrics_read(market_ids: Iterable[str], *, conn: redis.Redis | None = None) -> MetricsRead:
    """Every market's inventory, orders and state plus the global counters: one round trip
    (a pipeline, not a transaction: a scrape tolerates markets read a moment apart)."""
    ids = list(market_ids)
    pipe = conn_or_default(conn).pipeline(transaction=False)
    for market_id in ids:
        pipe.hgetall(K.inventory_key(market_id))
        pipe.hgetall(K.orders_key(market_id))
        pipe.hgetall(K.state_key(market_id))
    pipe.hgetall(K.METRICS_FILLS)
    pipe.hgetall(K.METRICS_CYCLE_LATENCY)
    pipe.get(K.CASH)  # the account's cash: every inventory's cash_cents
    results = pipe.execute()
    fills, latency, cash = results[-3:]
    markets = {}
    for i, market_id in enumerate(ids):
        inventory, orders, st = results[3 * i:3 * i + 3]
        markets[market_id] = MarketMetricsRead(market_id, inventory_from_hash(inventory, cash),
                                               orders_from_hash(orders), parse_fields(st, K.STATE_FIELDS))
    return MetricsRead(markets=markets, fills_total={m: int(v) for m, v in fills.items()},
                       cycle_latency=_histograms(latency))
