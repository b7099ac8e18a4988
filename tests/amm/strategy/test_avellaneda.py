"""γ tiers, τ(h), reservation price and the A-S spread (SPEC §6; A-S 2008 eqs. 29–30)."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.avellaneda import (
    MID_TIER_HOURS,
    MS_PER_HOUR,
    SHORT_TIER_HOURS,
    TIER_BLEND,
    as_quotes,
    gamma_at,
    gamma_for,
    hours_remaining,
    optimal_spread,
    reservation_price,
    spread_term,
    time_factor,
)
from amm.strategy.config import StrategyConfig

CFG = StrategyConfig()


@pytest.mark.parametrize(
    "hours, expected",
    [
        (0.0, CFG.gamma_short),
        (SHORT_TIER_HOURS, CFG.gamma_short),  # "within 7 days" is inclusive
        (SHORT_TIER_HOURS + 1e-6, CFG.gamma_mid),
        (MID_TIER_HOURS, CFG.gamma_mid),
        (MID_TIER_HOURS + 1e-6, CFG.gamma_long),
        (None, CFG.gamma_long),  # no end date: long-lived
    ],
)
def test_gamma_tiers(hours, expected):
    assert gamma_for(CFG, hours) == expected


def test_hours_remaining():
    assert hours_remaining(None, 0) is None
    assert hours_remaining(3 * MS_PER_HOUR, MS_PER_HOUR) == 2.0
    assert hours_remaining(0, MS_PER_HOUR) == 0.0  # past the end: 0, never negative


def test_time_factor_values():
    assert time_factor(24.0, 24.0) == 0.5
    assert time_factor(0.0, 24.0) == 0.0
    assert time_factor(None, 24.0) == 1.0
    assert math.isclose(time_factor(720.0, 24.0), 720 / 744)


@settings(max_examples=200, deadline=None)
@given(h1=st.floats(0, 1e5), h2=st.floats(0, 1e5), kappa=st.floats(0.01, 1e4))
def test_time_factor_is_monotone_and_below_one(h1, h2, kappa):
    lo, hi = sorted((h1, h2))
    assert 0.0 <= time_factor(lo, kappa) <= time_factor(hi, kappa) <= 1.0


def test_reservation_price_formula():
    # r = s − q·γ·σ²·τ
    assert math.isclose(reservation_price(50.0, 0.5, 2.5, 2.0, 0.9), 50.0 - 0.5 * 2.5 * 4.0 * 0.9)
    assert reservation_price(50.0, 0.0, 2.5, 2.0, 0.9) == 50.0
    assert reservation_price(50.0, -1.0, 1.0, 1.0, 1.0) == 51.0
    # the project cap on the shift
    assert reservation_price(50.0, 1.0, 2.5, 15.0, 1.0, max_shift=10) == 40.0
    assert reservation_price(50.0, -1.0, 2.5, 15.0, 1.0, max_shift=10) == 60.0


def test_spread_term_is_the_papers_column():
    assert round(spread_term(0.1, 1.5), 2) == 1.29
    assert round(spread_term(0.01, 1.5), 2) == 1.33
    assert round(spread_term(0.5, 1.5), 2) == 1.15
    assert spread_term(0.0, 1.5) == 2 / 1.5  # γ → 0 limit


def test_optimal_spread_adds_inventory_risk_term():
    assert math.isclose(optimal_spread(0.1, 2.0, 1.0, 1.5), 0.1 * 4 * 1.0 + spread_term(0.1, 1.5))
    assert optimal_spread(0.1, 2.0, 0.0, 1.5) == spread_term(0.1, 1.5)


def test_as_quotes_centre_on_reservation_price():
    bid, ask = as_quotes(100.0, 3, 0.1, 2.0, 0.5, 1.5)
    r = reservation_price(100.0, 3, 0.1, 2.0, 0.5)
    assert math.isclose((bid + ask) / 2, r)
    assert math.isclose(ask - bid, optimal_spread(0.1, 2.0, 0.5, 1.5))


@settings(max_examples=200, deadline=None)
@given(
    s=st.floats(1, 99),
    q1=st.floats(-1, 1),
    q2=st.floats(-1, 1),
    gamma=st.floats(0, 50),
    sigma=st.floats(1, 15),
    tau=st.floats(0, 1),
    cap=st.integers(0, 98),
)
def test_reservation_price_decreases_with_inventory_and_respects_cap(s, q1, q2, gamma, sigma, tau, cap):
    lo, hi = sorted((q1, q2))
    r_lo = reservation_price(s, lo, gamma, sigma, tau, cap)
    r_hi = reservation_price(s, hi, gamma, sigma, tau, cap)
    assert r_hi <= r_lo + 1e-9
    assert abs(r_lo - s) <= cap + 1e-9 and abs(r_hi - s) <= cap + 1e-9


# --- γ continuous across the tiers (issue 13) --------------------------------------------------
def test_gamma_at_is_the_tier_value_deep_inside_a_tier_and_the_mean_at_a_boundary():
    assert gamma_at(CFG, None) == CFG.gamma_long
    assert gamma_at(CFG, 0.0) == gamma_at(CFG, SHORT_TIER_HOURS / TIER_BLEND) == CFG.gamma_short
    assert gamma_at(CFG, SHORT_TIER_HOURS * TIER_BLEND) == CFG.gamma_mid == gamma_at(CFG, MID_TIER_HOURS / TIER_BLEND)
    assert gamma_at(CFG, MID_TIER_HOURS * TIER_BLEND) == CFG.gamma_long == gamma_at(CFG, 10**6)
    assert math.isclose(gamma_at(CFG, SHORT_TIER_HOURS), (CFG.gamma_short + CFG.gamma_mid) / 2)
    assert math.isclose(gamma_at(CFG, MID_TIER_HOURS), (CFG.gamma_mid + CFG.gamma_long) / 2)


@settings(max_examples=300, deadline=None)
@given(h=st.floats(0, 5_000), dh=st.floats(0, 0.01), g=st.tuples(st.floats(0, 50), st.floats(0, 50), st.floats(0, 50)))
def test_gamma_at_has_no_jump(h, dh, g):
    """Lipschitz in log-hours: a 0.01-hour step moves γ by at most |Δγ_tiers|·0.01/(h·ln 4)."""
    cfg = StrategyConfig(gamma_short=g[0], gamma_mid=g[1], gamma_long=g[2])
    a, b = gamma_at(cfg, h), gamma_at(cfg, h + dh)
    assert min(g) - 1e-9 <= a <= max(g) + 1e-9
    if h >= 1.0:
        assert abs(a - b) <= (abs(g[0] - g[1]) + abs(g[1] - g[2])) * dh / (h * math.log(4)) + 1e-9
