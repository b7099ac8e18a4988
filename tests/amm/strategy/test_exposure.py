"""Inventory as net directional exposure in cents (exposure.py; issue 13)."""
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from amm.strategy.config import StrategyConfig
from amm.strategy.exposure import (
    exposure_cents,
    exposure_limit_cents,
    exposure_skew,
    exposure_step,
    net_shares,
    side_sizes,
    size_factors,
)
from amm.strategy.types import Inventory

CFG = StrategyConfig(budget_limit_cents=500_000, exposure_limit_pct=20)  # limit 100,000 cents


def test_exposure_is_the_net_position_at_fair_value():
    assert exposure_limit_cents(CFG) == 100_000
    assert exposure_cents(1_000, 40.0) == 40_000  # long YES: a NO outcome takes 40 c a share
    assert exposure_cents(-1_000, 40.0) == -60_000  # long NO: a YES outcome takes 60 c a share
    assert exposure_cents(0, 40.0) == 0
    assert exposure_skew(40_000, CFG) == 0.4 and exposure_skew(-250_000, CFG) == -1.0


def test_minting_pairs_does_not_dilute_exposure():
    """The seed's skew falls from 1 to 0.2 when 4,000 pairs are minted; the exposure stays."""
    before = Inventory(yes_volume=1_000)
    after = Inventory(yes_volume=5_000, no_volume=4_000)
    assert before.skew == 1.0 and after.skew == 1_000 / 9_000
    assert net_shares(before) == net_shares(after) == 1_000
    assert exposure_skew(exposure_cents(net_shares(after), 50.0), CFG) == 0.5


def test_target_moves_the_zero():
    long_target = StrategyConfig(budget_limit_cents=500_000, exposure_target_pct=25)
    assert exposure_skew(0.0, long_target) == -0.25  # flat is short of the target: lean to buy YES
    assert exposure_skew(25_000, long_target) == 0.0


def test_exposure_step_is_one_levels_fill():
    assert math.isclose(exposure_step(100, 30.0, CFG), 100 * 70 / 100_000)
    zero_budget = StrategyConfig(budget_limit_cents=0)
    assert exposure_limit_cents(zero_budget) == 1.0  # never divides by zero


def test_size_factors_shrink_only_the_side_that_adds_exposure():
    assert size_factors(0.0, 1.0) == (1.0, 1.0)
    assert size_factors(0.5, 1.0) == (0.5, 1.0)  # long: bids shrink
    assert size_factors(-0.75, 2.0) == (1.0, 0.0625)  # short: asks shrink
    assert size_factors(1.0, 1.0) == (0.0, 1.0)  # at the limit nothing adds exposure
    assert size_factors(0.9, 0.0) == (1.0, 1.0)  # exponent 0: unskewed


def test_side_sizes_keep_the_shedding_side_near_the_end_without_flipping():
    # the expiry shrink took size 100 down to 5; long 120 YES over 2 levels
    assert side_sizes(size=5, full_size=100, net=120, q=0.1, levels=2, exponent=1.0) == (5, 60)
    assert side_sizes(size=5, full_size=100, net=-1_000, q=-0.5, levels=2, exponent=1.0) == (100, 3)
    assert side_sizes(size=1, full_size=100, net=0, q=0.99, levels=2, exponent=1.0) == (1, 1)  # not truncated away
    assert side_sizes(size=1, full_size=100, net=0, q=1.0, levels=2, exponent=1.0) == (0, 1)
    assert side_sizes(size=5, full_size=100, net=0, q=0.0, levels=2, exponent=1.0) == (5, 5)
    # a target that makes the long book "short of target": selling does not reduce q, no bonus
    assert side_sizes(size=5, full_size=100, net=120, q=-0.2, levels=2, exponent=1.0) == (5, 4)


@settings(max_examples=300, deadline=None)
@given(n1=st.integers(-20_000, 20_000), n2=st.integers(-20_000, 20_000), fair=st.floats(1, 99),
       pct=st.integers(1, 100), target=st.integers(-90, 90), budget=st.integers(0, 10**7),
       size=st.integers(1, 1_000), shrink=st.floats(0, 1), exponent=st.floats(0, 10))
def test_skew_and_sizes_are_monotone_in_net_exposure(n1, n2, fair, pct, target, budget, size, shrink, exponent):
    cfg = StrategyConfig(budget_limit_cents=budget, exposure_limit_pct=pct, exposure_target_pct=target)
    lo, hi = sorted((n1, n2))
    q_lo, q_hi = (exposure_skew(exposure_cents(n, fair), cfg) for n in (lo, hi))
    assert -1.0 <= q_lo <= q_hi <= 1.0
    shrunk = max(1, int(size * shrink))
    b_lo, a_lo = side_sizes(size=shrunk, full_size=size, net=lo, q=q_lo, levels=2, exponent=exponent)
    b_hi, a_hi = side_sizes(size=shrunk, full_size=size, net=hi, q=q_hi, levels=2, exponent=exponent)
    if target == 0:  # q and the net position agree in sign: more YES, fewer bids, more asks
        assert b_hi <= b_lo and a_hi >= a_lo
    for b, a in ((b_lo, a_lo), (b_hi, a_hi)):
        assert 0 <= b <= size and 0 <= a <= size
