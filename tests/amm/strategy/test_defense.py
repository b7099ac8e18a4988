"""Defense stack (SPEC §5, seed §6.3, A1/A3)."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import DefenseLevel, KillSwitchState
from amm.strategy.config import StrategyConfig
from amm.strategy.defense import asset_value_cents, evaluate_defense, reduce_only_defense
from amm.strategy.types import Inventory

CFG = StrategyConfig(budget_limit_cents=100_000, max_loss_daily_cents=30_000, min_asset_floor_cents=1_000)
SEVERITY = {DefenseLevel.NORMAL: 0, DefenseLevel.WIDEN: 1, DefenseLevel.ONE_SIDE: 2, DefenseLevel.KILL_SWITCH: 3}


def defend(skew=0.0, pnl=0, assets=10**9, kill=KillSwitchState.OFF, oracle=None, config=CFG, exposure_skew=None):
    return evaluate_defense(skew=skew, daily_pnl_cents=pnl, asset_value=assets, config=config,
                            kill_switch=kill, oracle_status=oracle, exposure_skew=exposure_skew)


@pytest.mark.parametrize(
    "skew, level, mult, discount",
    [
        (0.0, DefenseLevel.NORMAL, 1.0, 0),
        (0.80, DefenseLevel.NORMAL, 1.0, 0),  # strictly greater than 0.80
        (0.85, DefenseLevel.WIDEN, 2.25, 0),  # 1.5 → 3 linearly over 0.80 → 0.90
        (0.90, DefenseLevel.WIDEN, 3.0, 0),
        (0.925, DefenseLevel.ONE_SIDE, 3.0, 3),  # 2 → 4, discount 0 → 5 (2.5 rounds to 3)
        (0.95, DefenseLevel.ONE_SIDE, 4.0, 5),
        (0.9501, DefenseLevel.KILL_SWITCH, 1.0, 0),
        (1.0, DefenseLevel.KILL_SWITCH, 1.0, 0),
    ],
)
def test_skew_levels(skew, level, mult, discount):
    for sign in (1, -1):
        d = defend(skew=sign * skew)
        assert d.level is level
        assert math.isclose(d.spread_multiplier, mult)
        assert d.distress_discount_cents == discount


def test_one_side_quotes_only_the_reducing_side():
    long_yes = defend(skew=0.93)
    assert (long_yes.quote_bids, long_yes.quote_asks) == (False, True)
    long_no = defend(skew=-0.93)
    assert (long_no.quote_bids, long_no.quote_asks) == (True, False)


def test_kill_switch_quotes_nothing_and_is_sticky():
    k = defend(skew=0.99)
    assert k.is_kill and not k.quote_bids and not k.quote_asks and k.reason == "SKEW"
    sticky = defend(skew=0.0, kill=KillSwitchState.ON)
    assert sticky.is_kill and sticky.reason == "KILL_SWITCH_ON"


def test_daily_loss_rules():
    assert defend(pnl=-29_999).level is DefenseLevel.NORMAL
    assert defend(pnl=-30_001).reason == "DAILY_LOSS_OVER_MAX"
    big = StrategyConfig(budget_limit_cents=100_000, max_loss_daily_cents=10**9)
    assert defend(pnl=-50_000, config=big).level is DefenseLevel.NORMAL  # exactly 50 %
    assert defend(pnl=-50_001, config=big).reason == "DAILY_LOSS_OVER_HALF_BUDGET"


def test_asset_floor_a3():
    assert asset_value_cents(100, 10, 20, 40.0) == 100 + 10 * 40 + 20 * 60
    assert defend(assets=999).reason == "ASSET_FLOOR_BREACHED"
    assert defend(assets=1_000).level is DefenseLevel.NORMAL


def test_small_inventory_skew_is_damped():
    one_fill = Inventory(yes_volume=10, no_volume=0)
    assert one_fill.skew == 1.0 and one_fill.risk_skew(100) == 0.1
    assert defend(skew=one_fill.risk_skew(100)).level is DefenseLevel.NORMAL
    assert defend(skew=one_fill.risk_skew(0)).is_kill  # the seed's exact rule
    big = Inventory(yes_volume=980, no_volume=20)
    assert big.risk_skew(100) == big.skew == 0.96
    assert Inventory().risk_skew(0) == 0.0 and Inventory().risk_skew(100) == 0.0


def test_oracle_distrust_widens():
    d = defend(oracle="JUMP")
    assert d.level is DefenseLevel.WIDEN and d.reason == "ORACLE_JUMP" and d.spread_multiplier == 1.5
    assert defend(oracle="DEVIATION").reason == "ORACLE_DEVIATION"
    assert defend(oracle="STALE").level is DefenseLevel.NORMAL
    assert defend(skew=0.93, oracle="JUMP").level is DefenseLevel.ONE_SIDE  # skew rule is more severe


@settings(max_examples=300, deadline=None)
@given(a=st.floats(-1, 1), b=st.floats(-1, 1))
def test_severity_grows_with_skew(a, b):
    lo, hi = sorted((abs(a), abs(b)))
    d_lo, d_hi = defend(skew=lo), defend(skew=hi)
    assert SEVERITY[d_lo.level] <= SEVERITY[d_hi.level]
    if d_lo.level is d_hi.level and d_lo.level is not DefenseLevel.KILL_SWITCH:
        assert d_lo.spread_multiplier <= d_hi.spread_multiplier + 1e-12
        assert d_lo.distress_discount_cents <= d_hi.distress_discount_cents
    for d in (d_lo, d_hi):
        assert 1.0 <= d.spread_multiplier <= 4.0 and 0 <= d.distress_discount_cents <= 5
        if d.level is DefenseLevel.WIDEN:
            assert 1.5 <= d.spread_multiplier <= 3.0
        if d.level is DefenseLevel.ONE_SIDE:
            assert 2.0 <= d.spread_multiplier <= 4.0 and d.quote_bids != d.quote_asks


@settings(max_examples=200, deadline=None)
@given(skew=st.floats(-1, 1), pnl=st.integers(-10**6, 10**6), assets=st.floats(-1e6, 1e9))
def test_kill_switch_on_always_wins(skew, pnl, assets):
    assert defend(skew=skew, pnl=pnl, assets=assets, kill=KillSwitchState.ON).is_kill


# --- exposure skew and the reduce-only window (issue 13) ------------------------------------------
def test_exposure_skew_widens_and_unwinds_a_book_diluted_by_minting():
    d = defend(skew=0.1, exposure_skew=0.85)
    assert d.level is DefenseLevel.WIDEN and d.reason == "EXPOSURE"
    d = defend(skew=0.1, exposure_skew=-0.93)
    assert d.level is DefenseLevel.ONE_SIDE and (d.quote_bids, d.quote_asks) == (True, False)
    beyond = defend(skew=0.1, exposure_skew=1.0)  # past the limit: still reduce-only, not a kill
    assert beyond.level is DefenseLevel.ONE_SIDE and beyond.spread_multiplier == 4.0
    assert defend(skew=0.96, exposure_skew=0.0).is_kill  # A1 stays the seed's skew


def test_reduce_only_window_is_one_side_on_the_net_position():
    long_yes = reduce_only_defense(defend(), 120)
    assert (long_yes.level, long_yes.reason) == (DefenseLevel.ONE_SIDE, "REDUCE_ONLY_WINDOW")
    assert (long_yes.quote_bids, long_yes.quote_asks) == (False, True)
    flat = reduce_only_defense(defend(), 0)
    assert not flat.quote_bids and not flat.quote_asks
    assert reduce_only_defense(defend(skew=0.99), 120).is_kill  # a kill is never relaxed
