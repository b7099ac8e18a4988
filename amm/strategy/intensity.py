"""Order-flow intensity λ(δ) = A·e^(−k·δ) per market, learned from trades (SPEC §6 spread term;
issue 13), in the spirit of Hummingbot's TradingIntensityIndicator.

Avellaneda–Stoikov price the spread with the rate at which market orders reach a quote δ
cents from the mid: λ(δ) = A·e^(−kδ). Read as "each market order reaches an exponentially
distributed depth", the distances δᵢ = |price − fair| of observed trades are Exp(k) and the
trades arrive at rate A. Hummingbot fits A·e^(−kδ) to the traded volume per price level
with scipy; here, without numpy, the same model is fitted in closed form with a conjugate
prior, which also keeps the state to four numbers:

    k = (n₀ + Σ wᵢ) / (n₀ / k₀ + Σ wᵢ·δᵢ)   floored at `arrival_decay_k_min`, at most 100
    A = Σ wᵢ / T_w                           trades per second (0 before any time has passed)

with k₀ = `arrival_decay_k` and n₀ = `intensity_prior_trades` (a Gamma prior worth n₀ trades
at the prior's mean distance), wᵢ = 2^(−age/half-life) (`intensity_half_life_ms`), and
T_w = ∫ 2^(−age/half-life) d(age) over the time observed: the decayed observation time,
so A is the recent rate of trades and the time between them.

The trades are the AMM's own fills and the platform's trades in the market (merged by
trade id, so a trade passed in both counts once), measured against the fair price of the
previous cycle (what the quotes were built around when the trade happened); a distance is
capped at DISTANCE_CAP_CENTS, so one sweep through a thin book does not decide k alone.
Only k enters the spread (ladder.compose_spread); A is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, NamedTuple

from amm.strategy.config import StrategyConfig

DISTANCE_CAP_CENTS = 25.0
K_MAX = 100.0  # the config range of arrival_decay_k
_LN2 = math.log(2.0)


@dataclass(frozen=True, slots=True)
class FlowMemory:
    """Decayed sufficient statistics of the trades seen (module docstring)."""

    count: float = 0.0  # Σ wᵢ, trades
    distance: float = 0.0  # Σ wᵢ·δᵢ, cents
    time_s: float = 0.0  # T_w, seconds
    ts_ms: int | None = None  # when the statistics were last brought up to date

    def to_dict(self) -> dict[str, float | int | None]:
        return {"count": self.count, "distance": self.distance, "time_s": self.time_s, "ts_ms": self.ts_ms}

    @classmethod
    def from_dict(cls, raw: dict | None) -> "FlowMemory":
        if not raw:
            return cls()
        ts = raw.get("ts_ms")
        return cls(float(raw.get("count") or 0.0), float(raw.get("distance") or 0.0), float(raw.get("time_s") or 0.0),
                   None if ts is None or ts == "" else int(ts))


class Intensity(NamedTuple):
    """The estimate at one moment (a plain record, built every cycle)."""

    a_per_s: float  # A: trades per second reaching the fair price
    k_per_cent: float  # k: decay of the arrival rate per cent from fair
    trades: float  # the decayed number of trades behind the estimate


def trade_distances(prices: Iterable[float], reference: float | None) -> list[float]:
    """|price − reference| of each trade, capped at DISTANCE_CAP_CENTS; none without a reference."""
    if reference is None:
        return []
    out = []
    for price in prices:
        d = abs(price - reference)
        out.append(DISTANCE_CAP_CENTS if d > DISTANCE_CAP_CENTS else d)
    return out


def _decayed(memory: FlowMemory, now_ms: int, half_life_ms: int) -> tuple[float, float, float]:
    """(count, distance, time_s) of `memory` brought forward to `now_ms`."""
    if memory.ts_ms is None:
        return memory.count, memory.distance, memory.time_s
    elapsed = now_ms - memory.ts_ms
    if elapsed <= 0:
        return memory.count, memory.distance, memory.time_s
    keep = 0.5 ** (elapsed / half_life_ms)
    added_time = (half_life_ms / 1000.0 / _LN2) * (1.0 - keep)
    return memory.count * keep, memory.distance * keep, memory.time_s * keep + added_time


def flow_update(prev: FlowMemory, distances: Iterable[float], *, now_ms: int, half_life_ms: int) -> FlowMemory:
    """Add the new trades at full weight, the statistics first brought forward to `now_ms`. With no
    new trade the memory is returned as is (the decay is applied when it is read, `intensity`),
    so a quiet market's state does not change from cycle to cycle."""
    distances = tuple(distances)
    if prev.ts_ms is None:
        return FlowMemory(float(len(distances)), float(sum(distances)), 0.0, now_ms)
    if not distances:
        return prev
    count, distance, time_s = _decayed(prev, now_ms, half_life_ms)
    return FlowMemory(count + len(distances), distance + sum(distances), time_s, max(now_ms, prev.ts_ms))


def intensity(memory: FlowMemory, config: StrategyConfig, now_ms: int | None = None) -> Intensity:
    """(A, k) of the module docstring, the statistics decayed to `now_ms` (as stored if None)."""
    count, distance, time_s = (
        (memory.count, memory.distance, memory.time_s) if now_ms is None
        else _decayed(memory, now_ms, config.intensity_half_life_ms)
    )
    k0, n0 = config.arrival_decay_k, config.intensity_prior_trades
    num = n0 + count
    den = n0 / k0 + distance
    if den > 0:
        k = num / den if num > 0 else k0
    else:  # every trade exactly at fair, no prior: as steep as allowed
        k = K_MAX if num > 0 else k0
    floor = config.arrival_decay_k_min
    k = floor if k < floor else K_MAX if k > K_MAX else k
    a = count / time_s if time_s > 0 else 0.0
    return Intensity(a, k, count)
