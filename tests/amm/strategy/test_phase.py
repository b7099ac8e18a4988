"""Phase machine (SPEC §5, seed §6.2)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import AMMPhase, PhaseTransitionReason
from amm.strategy.config import StrategyConfig
from amm.strategy.phase import ROLLBACK_COOLDOWN_MS, evaluate_phase, phase_multipliers

CFG = StrategyConfig(
    exploration_duration_ms=1_800_000, exploration_volume_target=1_000, price_stable_window_ms=300_000,
    price_stable_band_cents=2, budget_limit_cents=100_000,
)
E, S = AMMPhase.EXPLORATION, AMMPhase.STABILIZATION


def samples(prices, start=0, step=5_000):
    return tuple(start + i * step for i in range(len(prices))), tuple(float(p) for p in prices)


def phase(ph=E, *, now, entered=0, volume=0, prices=(), start=0, pnl=0, last_rollback=None, config=CFG):
    ts, px = samples(prices, start)
    return evaluate_phase(phase=ph, entered_ms=entered, last_rollback_ms=last_rollback, phase_volume=volume,
                          sample_ts=ts, sample_px=px, daily_pnl_cents=pnl, now_ms=now, config=config)


def test_time_expired():
    assert phase(now=1_799_999) is None
    t = phase(now=1_800_000)
    assert (t.from_phase, t.to_phase, t.reason, t.timestamp_ms) == (E, S, PhaseTransitionReason.TIME_EXPIRED, 1_800_000)
    assert t.to_dict()["reason"] == "TIME_EXPIRED"


def test_volume_reached():
    assert phase(now=10, volume=999) is None
    assert phase(now=10, volume=1_000).reason is PhaseTransitionReason.VOLUME_REACHED


def test_price_stable_needs_a_full_covered_window_within_the_band():
    calm = [50, 51, 52, 51] * 16  # 64 samples, 5 s apart: 315 s, range 2
    now = 5_000 * 63
    assert phase(now=now, prices=calm).reason is PhaseTransitionReason.PRICE_STABLE
    assert phase(now=now, prices=calm, entered=now - 299_999) is None  # phase younger than the window
    wild = [50, 53] * 32
    assert phase(now=now, prices=wild) is None
    sparse_ts = (0, now)  # runtime paused: nothing in the first 90 % of the window
    t = evaluate_phase(phase=E, entered_ms=0, last_rollback_ms=None, phase_volume=0, sample_ts=sparse_ts,
                       sample_px=(50.0, 50.0), daily_pnl_cents=0, now_ms=now, config=CFG)
    assert t is None


def test_reason_priority_volume_then_stability_then_time():
    calm = [50] * 400
    now = 5_000 * 399
    cfg = StrategyConfig(exploration_duration_ms=0, exploration_volume_target=10, price_stable_window_ms=300_000)
    assert phase(now=now, prices=calm, volume=10, config=cfg).reason is PhaseTransitionReason.VOLUME_REACHED
    assert phase(now=now, prices=calm, volume=0, config=cfg).reason is PhaseTransitionReason.PRICE_STABLE
    assert phase(now=now, prices=[], volume=0, config=cfg).reason is PhaseTransitionReason.TIME_EXPIRED


def test_rollback_on_five_minute_range():
    now = 1_000_000
    start = now - 295_000
    calm = phase(S, now=now, prices=[50] * 59 + [60], start=start)  # range 10 = not > 10
    assert calm is None
    t = phase(S, now=now, prices=[50] * 59 + [60.5], start=start)
    assert (t.from_phase, t.to_phase, t.reason) == (S, E, PhaseTransitionReason.EMERGENCY_ROLLBACK)
    old_move = phase(S, now=now, prices=[70] + [50] * 60, start=now - 305_000)  # the 70 is > 5 minutes old
    assert old_move is None


def test_rollback_on_daily_loss():
    assert phase(S, now=10, pnl=-50_000) is None
    assert phase(S, now=10, pnl=-50_001).reason is PhaseTransitionReason.EMERGENCY_ROLLBACK


def test_rollback_cooldown():
    assert phase(S, now=1_000_000, pnl=-60_000, last_rollback=1_000_000 - ROLLBACK_COOLDOWN_MS + 1) is None
    assert phase(S, now=1_000_000, pnl=-60_000, last_rollback=1_000_000 - ROLLBACK_COOLDOWN_MS) is not None


def test_stabilization_never_moves_forward():
    assert phase(S, now=10**9, volume=10**9, prices=[50] * 100) is None


def test_phase_multipliers():
    cfg = StrategyConfig(exploration_spread_multiplier=2.5, exploration_size_factor=0.4)
    assert phase_multipliers(E, cfg) == (2.5, 0.4)
    assert phase_multipliers(S, cfg) == (1.0, 1.0)


@settings(max_examples=200, deadline=None)
@given(
    ph=st.sampled_from([E, S]),
    now=st.integers(0, 10**8),
    entered=st.integers(0, 10**8),
    volume=st.integers(0, 10**5),
    pnl=st.integers(-10**6, 10**6),
    prices=st.lists(st.floats(1, 99), max_size=80),
)
def test_transitions_are_well_formed(ph, now, entered, volume, pnl, prices):
    t = phase(ph, now=now, entered=min(entered, now), volume=volume, prices=prices, start=max(0, now - 5_000 * 80), pnl=pnl)
    if t is not None:
        assert t.from_phase is ph and t.to_phase is not ph and t.timestamp_ms == now
        if ph is S:
            assert t.reason is PhaseTransitionReason.EMERGENCY_ROLLBACK
        else:
            assert t.reason is not PhaseTransitionReason.EMERGENCY_ROLLBACK


def test_an_uninformed_price_is_not_stable():
    calm = [50] * 64
    now = 5_000 * 63
    ts, px = samples(calm)
    t = evaluate_phase(phase=E, entered_ms=0, last_rollback_ms=None, phase_volume=0, sample_ts=ts, sample_px=px,
                       daily_pnl_cents=0, now_ms=now, config=CFG, informed=False)
    assert t is None
