"""LVR guard (SPEC §6)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.config import StrategyConfig
from amm.strategy.lvr import LVR_SIZE_FACTOR, LVR_SPREAD_MULTIPLIER, evaluate_lvr, fair_velocity

CFG = StrategyConfig(lvr_velocity_threshold=0.10, lvr_cooldown_ms=5_000)


def lvr(prev, prev_ms, fair, now, until=0, config=CFG):
    return evaluate_lvr(prev_fair=prev, prev_ms=prev_ms, fair=fair, now_ms=now, cooldown_until_ms=until, config=config)


def test_velocity_units_and_dt_floor():
    assert math.isclose(fair_velocity(50, 0, 60, 1_000), 0.10)  # 10 cents in 1 s = 0.10 of 100/s
    assert math.isclose(fair_velocity(50, 0, 60, 2_000), 0.05)
    assert math.isclose(fair_velocity(50, 0, 60, 10), 0.10)  # Δt floored at 1 s
    assert fair_velocity(None, None, 60, 10) == 0.0


def test_threshold_is_strict_and_starts_a_cooldown():
    calm = lvr(50, 0, 60, 1_000)
    assert not calm.triggered and not calm.active and calm.cooldown_until_ms == 0
    assert calm.spread_multiplier == 1.0 and calm.size_factor == 1.0
    fast = lvr(50, 0, 61, 1_000)
    assert fast.triggered and fast.active and fast.cooldown_until_ms == 6_000
    assert fast.spread_multiplier == LVR_SPREAD_MULTIPLIER and fast.size_factor == LVR_SIZE_FACTOR


def test_cooldown_runs_out_and_extends():
    assert lvr(50, 2_000, 50, 3_000, until=6_000).active
    assert not lvr(50, 5_000, 50, 6_000, until=6_000).active
    again = lvr(50, 4_000, 70, 5_000, until=6_000)
    assert again.triggered and again.cooldown_until_ms == 10_000


def test_zero_cooldown_never_triggers():
    assert not lvr(10, 0, 90, 1_000, config=StrategyConfig(lvr_cooldown_ms=0)).triggered


@settings(max_examples=200, deadline=None)
@given(prev=st.floats(1, 99), fair=st.floats(1, 99), dt=st.integers(0, 100_000), until=st.integers(0, 10**6))
def test_cooldown_never_shrinks(prev, fair, dt, until):
    now = 10**6
    e = lvr(prev, now - dt, fair, now, until=until)
    assert e.cooldown_until_ms >= until
    assert e.triggered == (e.velocity > CFG.lvr_velocity_threshold)
    assert e.active == (now < e.cooldown_until_ms)
