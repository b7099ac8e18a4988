"""LVR guard (SPEC §6 "LVR guard", seed §4.3 `lvr_cooldown_until`).

Velocity v = |fair_now − fair_prev| / 100 / max(Δt, 1 s), in fractions of the 100-cent payoff
per second (the unit of `lvr_velocity_threshold`; 0.10 = 10 cents per second). The 1-second
floor on Δt keeps two cycles a few ms apart from reading as infinite speed.

v > `lvr_velocity_threshold` starts (or extends) a cooldown until now + `lvr_cooldown_ms`.

Quoting behaviour while the cooldown runs (SPEC §6 allows "pull or widen"; we widen, so the
market is never left without the AMM's quotes, but stale-price exposure is cut): spread × 2
and sizes × 0.5 — on top of phase and defense, still capped at `max_spread_cents`.
"""
from __future__ import annotations

from dataclasses import dataclass

from amm.strategy.config import StrategyConfig

LVR_MIN_DT_MS = 1_000
LVR_SPREAD_MULTIPLIER = 2.0
LVR_SIZE_FACTOR = 0.5


@dataclass(frozen=True, slots=True)
class LvrEval:
    velocity: float  # fraction of 100 cents per second
    triggered: bool  # this cycle started or extended the cooldown
    cooldown_until_ms: int  # 0 when there never was one
    active: bool  # the cooldown covers now

    @property
    def spread_multiplier(self) -> float:
        return LVR_SPREAD_MULTIPLIER if self.active else 1.0

    @property
    def size_factor(self) -> float:
        return LVR_SIZE_FACTOR if self.active else 1.0


def fair_velocity(prev_fair: float | None, prev_ms: int | None, fair: float, now_ms: int) -> float:
    """|Δfair| / 100 per second, Δt floored at 1 s; 0 without a previous value."""
    if prev_fair is None or prev_ms is None:
        return 0.0
    dt_ms = max(now_ms - prev_ms, LVR_MIN_DT_MS)
    return abs(fair - prev_fair) / 100.0 / (dt_ms / 1000.0)


def evaluate_lvr(
    *, prev_fair: float | None, prev_ms: int | None, fair: float, now_ms: int, cooldown_until_ms: int, config: StrategyConfig
) -> LvrEval:
    velocity = fair_velocity(prev_fair, prev_ms, fair, now_ms)
    triggered = velocity > config.lvr_velocity_threshold and config.lvr_cooldown_ms > 0
    until = max(cooldown_until_ms, now_ms + config.lvr_cooldown_ms) if triggered else cooldown_until_ms
    return LvrEval(velocity, triggered, until, now_ms < until)
