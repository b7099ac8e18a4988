"""Strategy phase machine (SPEC §5 "Phase", seed §6.2).

EXPLORATION → STABILIZATION when any of (checked in this order, the first wins):
  - VOLUME_REACHED: AMM fill volume since entering the phase ≥ `exploration_volume_target`;
  - PRICE_STABLE: the phase has lasted `price_stable_window_ms`, the fair-price samples of that
    window start within its first 10 % (≥ 90 % coverage, so a paused runtime does not count
    as calm) and their range (max − min) ≤ `price_stable_band_cents`, and the fair price is
    informed by at least one layer right now (a price nobody quotes, reports or trades is
    not "stable");
  - TIME_EXPIRED: `exploration_duration_ms` elapsed since entering the phase.
  (A target or duration of 0 is met at once.)

STABILIZATION → EXPLORATION (EMERGENCY_ROLLBACK) when either
  - 5-minute volatility > 10 %: the fair price's range over the last 5 minutes exceeds 10 cents,
    i.e. 10 % of the 100-cent payoff (a range is robust to 1-cent flicker, unlike summed
    squared changes), or
  - daily loss > 50 % of `budget_limit_cents`,
and no rollback happened in the last 10 minutes (cooldown).

Phase multipliers: EXPLORATION widens the spread by `exploration_spread_multiplier` and scales
sizes by `exploration_size_factor` ("wide spread, small size"); STABILIZATION uses ×1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from amm.enums import AMMPhase, PhaseTransitionReason
from amm.strategy.config import StrategyConfig
from amm.strategy.volatility import price_range

ROLLBACK_WINDOW_MS = 300_000  # SPEC §5 "5-minute volatility"
ROLLBACK_RANGE_CENTS = 10.0  # SPEC §5 "> 10%" of the 100-cent payoff
ROLLBACK_LOSS_FRACTION = 0.5  # SPEC §5 "daily loss > 50% of budget"
ROLLBACK_COOLDOWN_MS = 600_000  # SPEC §5 "10-minute cooldown"
STABLE_COVERAGE = 0.9  # PRICE_STABLE needs samples from the first 10 % of the window onwards


@dataclass(frozen=True, slots=True)
class PhaseTransition:
    """A phase change to record (SPEC §5: from_phase, to_phase, reason, timestamp_ms)."""

    from_phase: AMMPhase
    to_phase: AMMPhase
    reason: PhaseTransitionReason
    timestamp_ms: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_phase": self.from_phase.value,
            "to_phase": self.to_phase.value,
            "reason": self.reason.value,
            "timestamp_ms": self.timestamp_ms,
            "detail": self.detail,
        }


def evaluate_phase(
    *,
    phase: AMMPhase,
    entered_ms: int,
    last_rollback_ms: int | None,
    phase_volume: int,
    sample_ts: Sequence[int],
    sample_px: Sequence[float],
    daily_pnl_cents: int,
    now_ms: int,
    config: StrategyConfig,
    informed: bool = True,
) -> PhaseTransition | None:
    """The transition to make now, or None. `informed` is False while the fair price comes from
    no layer at all (initial or carried-over price): such a price is not evidence of stability."""
    if phase is AMMPhase.EXPLORATION:
        if phase_volume >= config.exploration_volume_target:
            return PhaseTransition(
                phase, AMMPhase.STABILIZATION, PhaseTransitionReason.VOLUME_REACHED, now_ms,
                f"volume {phase_volume} >= {config.exploration_volume_target}",
            )
        window_start = now_ms - config.price_stable_window_ms
        if informed and window_start >= entered_ms:
            rng = price_range(sample_ts, sample_px, since_ms=window_start)
            covered = rng is not None and rng[1] - window_start <= config.price_stable_window_ms * (1 - STABLE_COVERAGE)
            if covered and rng[0] <= config.price_stable_band_cents:  # type: ignore[index]
                return PhaseTransition(
                    phase, AMMPhase.STABILIZATION, PhaseTransitionReason.PRICE_STABLE, now_ms,
                    f"range {rng[0]:.2f} <= {config.price_stable_band_cents} cents over {config.price_stable_window_ms} ms",  # type: ignore[index]
                )
        if now_ms - entered_ms >= config.exploration_duration_ms:
            return PhaseTransition(
                phase, AMMPhase.STABILIZATION, PhaseTransitionReason.TIME_EXPIRED, now_ms,
                f"{now_ms - entered_ms} ms >= {config.exploration_duration_ms}",
            )
        return None
    if last_rollback_ms is not None and now_ms - last_rollback_ms < ROLLBACK_COOLDOWN_MS:
        return None
    loss = -daily_pnl_cents
    if loss > ROLLBACK_LOSS_FRACTION * config.budget_limit_cents:
        return PhaseTransition(
            phase, AMMPhase.EXPLORATION, PhaseTransitionReason.EMERGENCY_ROLLBACK, now_ms,
            f"daily loss {loss} > 50% of budget {config.budget_limit_cents}",
        )
    rng = price_range(sample_ts, sample_px, since_ms=now_ms - ROLLBACK_WINDOW_MS)
    if rng is not None and rng[0] > ROLLBACK_RANGE_CENTS:
        return PhaseTransition(
            phase, AMMPhase.EXPLORATION, PhaseTransitionReason.EMERGENCY_ROLLBACK, now_ms,
            f"5-minute fair range {rng[0]:.2f} > {ROLLBACK_RANGE_CENTS} cents",
        )
    return None


def phase_multipliers(phase: AMMPhase, config: StrategyConfig) -> tuple[float, float]:
    """(spread multiplier, size factor) of the phase."""
    if phase is AMMPhase.EXPLORATION:
        return config.exploration_spread_multiplier, config.exploration_size_factor
    return 1.0, 1.0
