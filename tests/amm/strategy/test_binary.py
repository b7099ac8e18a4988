"""The binary's price risk over the holding horizon (binary.py; issue 13, pm-AMM expiry risk)."""
import math
import random
from statistics import NormalDist

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.binary import (
    RISK_HORIZON_MIN,
    binary_risk,
    expiry_size_factor,
    local_sigma_scale,
    normal_pdf,
    probit,
    revealed_variance,
    settlement_variance,
)

N01 = NormalDist()


def test_revealed_variance_limits():
    assert revealed_variance(0.0, 0.0) == 0.0
    assert math.isclose(revealed_variance(0.0, 1.0), 2_500.0, rel_tol=1e-9)  # the settlement jump at 50
    u = probit(0.2)
    assert math.isclose(revealed_variance(u, 1.0), settlement_variance(0.2), rel_tol=1e-5)
    assert math.isclose(revealed_variance(0.0, 0.5), 10_000 / 12, rel_tol=1e-9)  # asin(½)/2π
    # small f: the local σ² of the price, f·(100·φ(u))²
    f = 1e-4
    assert math.isclose(revealed_variance(u, f), f * (100 * normal_pdf(u)) ** 2, rel_tol=1e-3)


def test_revealed_variance_matches_the_gaussian_score_model():
    """Var Φ((u + √f·ε)/√(1 − f)) by Monte Carlo, the pm-AMM's price a fraction f later."""
    rng = random.Random(13)
    for x, f in ((0.5, 0.3), (0.15, 0.6), (0.9, 0.05)):
        u = probit(x)
        draws = [N01.cdf((u + math.sqrt(f) * rng.gauss(0, 1)) / math.sqrt(1 - f)) for _ in range(40_000)]
        mean = sum(draws) / len(draws)
        mc = 10_000 * sum((d - mean) ** 2 for d in draws) / len(draws)
        assert math.isclose(revealed_variance(u, f), mc, rel_tol=0.03), (x, f)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(0.005, 0.995), f1=st.floats(0, 1), f2=st.floats(0, 1))
def test_revealed_variance_grows_with_f_up_to_the_settlement_jump(x, f1, f2):
    u = probit(x)
    lo, hi = sorted((f1, f2))
    v_lo, v_hi = revealed_variance(u, lo), revealed_variance(u, hi)
    assert 0.0 <= v_lo <= v_hi + 1e-9
    assert v_hi <= settlement_variance(x) * (1 + 1e-5)


def test_far_from_the_end_the_risk_is_the_seeds_sigma_squared():
    """No end date: V ≈ σ² of one minute at 50 (the seed's σ²·τ at τ = 1), p(1 − p)-shaped elsewhere."""
    at50 = binary_risk(fair=50, sigma50=3.0, hours=None, expiry_weight=1.0)
    assert math.isclose(at50.variance, 9.0, rel_tol=0.01) and at50.sigma_expiry_cents == 0.0
    at2 = binary_risk(fair=2, sigma50=3.0, hours=None, expiry_weight=1.0)
    assert math.isclose(at2.sigma_local_cents, 3.0 * local_sigma_scale(0.02))
    assert at2.variance < at50.variance / 100  # σ has the p(1 − p) shape: 1/9 at 2 is gone
    assert RISK_HORIZON_MIN == 1.0


def test_expiry_risk_follows_the_pm_amm_and_reaches_the_settlement_jump():
    one_hour = binary_risk(fair=50, sigma50=1.0, hours=1.0, expiry_weight=1.0)
    # the pm-AMM's probability volatility 100·φ(Φ⁻¹(p))/√(T − t), per √minute
    assert math.isclose(one_hour.sigma_expiry_cents, 100 * normal_pdf(0.0) / math.sqrt(60.0))
    assert one_hour.variance > 20 * binary_risk(fair=50, sigma50=1.0, hours=None, expiry_weight=1.0).variance
    at_end = binary_risk(fair=50, sigma50=1.0, hours=0.0, expiry_weight=1.0)
    assert math.isclose(at_end.variance, 2_500.0, rel_tol=1e-3)
    off = binary_risk(fair=50, sigma50=1.0, hours=0.0, expiry_weight=0.0)  # weight 0: realized σ only
    assert math.isclose(off.variance, 1.0, rel_tol=0.01)


@settings(max_examples=300, deadline=None)
@given(fair=st.floats(1, 99), sigma=st.floats(1, 15), h1=st.floats(0, 5_000), h2=st.floats(0, 5_000),
       weight=st.floats(0, 10))
def test_risk_never_decreases_as_the_end_nears(fair, sigma, h1, h2, weight):
    near, far = sorted((h1, h2))
    v_near = binary_risk(fair=fair, sigma50=sigma, hours=near, expiry_weight=weight).variance
    v_far = binary_risk(fair=fair, sigma50=sigma, hours=far, expiry_weight=weight).variance
    v_none = binary_risk(fair=fair, sigma50=sigma, hours=None, expiry_weight=weight).variance
    assert v_near >= v_far - 1e-9 >= v_none - 2e-9
    assert v_near <= settlement_variance(fair / 100) * (1 + 1e-5)


def test_expiry_size_factor_is_the_pm_amm_square_root_inside_its_horizon_and_1_before_it():
    horizon = 300_000  # 5 minutes
    assert expiry_size_factor(None, horizon) == 1.0  # no end date
    assert expiry_size_factor(10 / 60, horizon) == 1.0  # 10 minutes left: before the horizon, full size
    assert expiry_size_factor(5 / 60, horizon) == 1.0
    assert math.isclose(expiry_size_factor(1.25 / 60, horizon), 0.5)  # a quarter of the horizon left: √¼
    assert expiry_size_factor(0.0, horizon) == 0.0
    assert expiry_size_factor(0.0, 0) == 1.0 and expiry_size_factor(1.0, 0) == 1.0  # 0: no shrink
    # a day's horizon: an hour left quotes √(1/24) of the depth, as the seed's τ = h/(h + 24) did to within 3 %
    assert math.isclose(expiry_size_factor(1.0, 86_400_000), math.sqrt(1 / 24))
    assert math.isclose(expiry_size_factor(1.0, 86_400_000), math.sqrt(1 / 25), rel_tol=0.03)


@given(st.floats(0, 2_000), st.floats(0, 2_000), st.sampled_from([1_000, 300_000, 86_400_000, 30 * 86_400_000]))
def test_expiry_size_factor_never_grows_as_the_end_nears(h1, h2, horizon):
    near, far = sorted((h1, h2))
    assert 0.0 <= expiry_size_factor(near, horizon) <= expiry_size_factor(far, horizon) <= 1.0
