"""Order-flow intensity λ(δ) = A·e^(−kδ) learned from trades (intensity.py; issue 13)."""
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.config import StrategyConfig
from amm.strategy.intensity import (
    DISTANCE_CAP_CENTS,
    K_MAX,
    FlowMemory,
    flow_update,
    intensity,
    trade_distances,
)

CFG = StrategyConfig(arrival_decay_k=1.5, intensity_prior_trades=20.0, arrival_decay_k_min=0.2,
                     intensity_half_life_ms=600_000)


def test_no_trades_gives_the_prior():
    assert intensity(FlowMemory(), CFG) == (0.0, 1.5, 0.0)
    first = flow_update(FlowMemory(), [], now_ms=1_000, half_life_ms=600_000)
    assert first == FlowMemory(ts_ms=1_000)
    assert flow_update(first, [], now_ms=9_000, half_life_ms=600_000) is first  # a quiet market's state is unchanged


def test_many_trades_learn_k_from_the_mean_distance_and_a_from_their_rate():
    """Exp(k) distances with k = 0.4 per cent, one trade every 2 s: k → 0.4, A → 0.5 per second."""
    rng = random.Random(5)
    memory, now = FlowMemory(), 0
    for _ in range(3_000):
        now += 2_000
        memory = flow_update(memory, [rng.expovariate(0.4)], now_ms=now, half_life_ms=600_000)
    est = intensity(memory, CFG, now)
    assert math.isclose(est.k_per_cent, 0.4, rel_tol=0.1)
    assert math.isclose(est.a_per_s, 0.5, rel_tol=0.05)


def test_floor_cap_and_prior_weight():
    far = FlowMemory(count=1_000.0, distance=1_000.0 * 20, time_s=100.0, ts_ms=0)  # mean 20 c: k 0.05
    assert intensity(far, CFG).k_per_cent == 0.2  # floored
    near = FlowMemory(count=1_000.0, distance=0.0, time_s=100.0, ts_ms=0)
    assert math.isclose(intensity(near, CFG).k_per_cent, 1_020 / (20 / 1.5))
    no_prior = StrategyConfig(intensity_prior_trades=0.0)
    assert intensity(near, no_prior).k_per_cent == K_MAX  # every trade at fair: as steep as allowed
    assert intensity(FlowMemory(count=10.0, distance=20.0, time_s=10.0, ts_ms=0), no_prior).k_per_cent == 0.5
    # 20 prior trades at 1/1.5 c plus 20 trades at 2 c: (20 + 20) / (20/1.5 + 40)
    mixed = FlowMemory(count=20.0, distance=40.0, time_s=10.0, ts_ms=0)
    assert math.isclose(intensity(mixed, CFG).k_per_cent, 40 / (20 / 1.5 + 40))


def test_old_trades_fade_with_the_half_life():
    memory = FlowMemory(count=100.0, distance=100.0 * 2, time_s=500.0, ts_ms=0)
    later = intensity(memory, CFG, 600_000)  # one half-life later: half the trades behind k
    assert math.isclose(later.trades, 50.0)
    assert later.k_per_cent > intensity(memory, CFG, 0).k_per_cent  # the prior (k0 1.5) weighs more


def test_distances_are_capped_and_need_a_reference():
    assert trade_distances([50, 53, 10], 51.0) == [1.0, 2.0, DISTANCE_CAP_CENTS]
    assert trade_distances([50], None) == []


def test_memory_round_trips():
    memory = FlowMemory(3.25, 7.125, 12.5, 1_000)
    assert FlowMemory.from_dict(memory.to_dict()) == memory
    assert FlowMemory.from_dict(None) == FlowMemory() == FlowMemory.from_dict({})


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(st.floats(0, 30), max_size=5), max_size=30),
       gaps=st.lists(st.integers(0, 120_000), min_size=30, max_size=30),
       k0=st.floats(0.01, 100), n0=st.floats(0, 1_000), k_min=st.floats(0.01, 100))
def test_estimate_is_always_within_floor_and_cap(batches, gaps, k0, n0, k_min):
    cfg = StrategyConfig(arrival_decay_k=k0, intensity_prior_trades=n0, arrival_decay_k_min=k_min)
    memory, now = FlowMemory(), 0
    for batch, gap in zip(batches, gaps):
        now += gap
        memory = flow_update(memory, trade_distances(batch, 0.0), now_ms=now, half_life_ms=cfg.intensity_half_life_ms)
        est = intensity(memory, cfg, now)
        assert min(k_min, K_MAX) <= est.k_per_cent <= max(k_min, K_MAX)
        assert est.a_per_s >= 0.0 and est.trades >= 0.0
