"""Auto-reinvest and wind-down decisions (SPEC §5 WINDING_DOWN, §6)."""
from hypothesis import given, settings
from hypothesis import strategies as st

from amm.enums import DefenseLevel, Direction, Side
from amm.strategy.config import StrategyConfig
from amm.strategy.ladder import capacity_for
from amm.strategy.reinvest import mint_pairs, wind_down
from amm.strategy.types import Inventory, LiveOrder

CFG = StrategyConfig(budget_limit_cents=100_000, position_limit=5_000)


def mint(inv, live=(), ladder_cash=0, target=400, level=DefenseLevel.NORMAL, quoting=True, config=CFG):
    capacity = capacity_for(inv, live, config, 0)
    return mint_pairs(inventory=inv, capacity=capacity, ladder_cash_cents=ladder_cash, target_per_side=target,
                      defense_level=level, quoting=quoting, config=config)


def test_mints_the_deficit_of_the_smaller_side():
    inv = Inventory(yes_volume=100, no_volume=300, yes_available=100, no_available=300, cash_cents=10**6,
                    yes_cost_sum_cents=5_000, no_cost_sum_cents=15_000)
    assert mint(inv) == 300


def test_mint_limited_by_cash_budget_ladder_and_position():
    cash_only = Inventory(cash_cents=10_000)
    assert mint(cash_only) == 100
    assert mint(cash_only, ladder_cash=5_050) == 49
    budget = Inventory(cash_cents=10**7, yes_cost_sum_cents=50_000, no_cost_sum_cents=30_000)
    assert mint(budget) == 200  # 20,000 cents of budget left
    full = Inventory(yes_volume=4_950, no_volume=4_900, cash_cents=10**7)
    assert mint(full, config=StrategyConfig(budget_limit_cents=10**9)) == 50


def test_mint_uses_only_unfrozen_cash():
    inv = Inventory(cash_cents=1_000)
    live = [LiveOrder("b", Side.YES, Direction.BUY, 50, 1_000)]  # 50,000 cents frozen
    assert mint(inv, live, ladder_cash=0) == 10  # min(available cash, free − ladder)


def test_no_mint_when_disabled_defending_or_halted():
    inv = Inventory(cash_cents=10**6)
    assert mint(inv, config=StrategyConfig(auto_reinvest=False)) == 0
    assert mint(inv, level=DefenseLevel.ONE_SIDE) == 0
    assert mint(inv, level=DefenseLevel.KILL_SWITCH) == 0
    assert mint(inv, level=DefenseLevel.WIDEN) == 400
    assert mint(inv, quoting=False) == 0
    stocked = Inventory(yes_volume=500, no_volume=500, yes_available=500, no_available=500, cash_cents=10**6)
    assert mint(stocked) == 0


def test_wind_down_cancels_everything_and_burns_pairs():
    inv = Inventory(yes_volume=300, no_volume=200, yes_available=100, no_available=150, cash_cents=0)
    live = [
        LiveOrder("a", Side.YES, Direction.SELL, 60, 200),
        LiveOrder("b", Side.NO, Direction.SELL, 40, 50),
        LiveOrder("c", Side.YES, Direction.BUY, 40, 10),
    ]
    w = wind_down(inv, live)
    assert w.cancel_order_ids == ("a", "b", "c") and w.burn_pairs == 200 and not w.complete
    assert wind_down(Inventory(yes_volume=0, no_volume=40), []).complete
    assert wind_down(Inventory(yes_volume=10, no_volume=10, yes_available=10, no_available=10), []).burn_pairs == 10


@settings(max_examples=300, deadline=None)
@given(
    yes=st.integers(0, 10_000), no=st.integers(0, 10_000), cash=st.integers(0, 10**7),
    cost=st.integers(0, 10**6), ladder_cash=st.integers(0, 10**6), target=st.integers(0, 10_000),
    budget=st.integers(0, 10**6), limit=st.integers(0, 12_000),
)
def test_mint_never_breaks_a_limit(yes, no, cash, cost, ladder_cash, target, budget, limit):
    cfg = StrategyConfig(budget_limit_cents=budget, position_limit=limit)
    inv = Inventory(yes_volume=yes, no_volume=no, yes_available=yes, no_available=no, cash_cents=cash,
                    yes_cost_sum_cents=cost)
    ladder_cash = min(ladder_cash, cash, max(0, budget - cost))  # the ladder itself is within limits
    n = mint(inv, ladder_cash=ladder_cash, target=target, config=cfg)
    assert n >= 0
    if n:
        assert 100 * n + ladder_cash <= cash
        assert 100 * n + ladder_cash + cost <= budget
        assert max(yes, no) + n <= limit
        assert min(yes, no) + n <= target


@settings(max_examples=200, deadline=None)
@given(
    yes=st.integers(0, 5_000), no=st.integers(0, 5_000),
    orders=st.lists(st.tuples(st.sampled_from(list(Side)), st.sampled_from(list(Direction)), st.integers(1, 99),
                              st.integers(1, 500)), max_size=10),
)
def test_wind_down_properties(yes, no, orders):
    live = [LiveOrder(f"o{i}", s, d, p, r) for i, (s, d, p, r) in enumerate(orders)]
    yes_pending = sum(o.remaining for o in live if o.side is Side.YES and o.direction is Direction.SELL)
    no_pending = sum(o.remaining for o in live if o.side is Side.NO and o.direction is Direction.SELL)
    yes_v, no_v = max(yes, yes_pending), max(no, no_pending)
    inv = Inventory(yes_volume=yes_v, no_volume=no_v, yes_available=yes_v - yes_pending,
                    no_available=no_v - no_pending)
    w = wind_down(inv, live)
    assert sorted(w.cancel_order_ids) == sorted(o.order_id for o in live)
    assert w.burn_pairs == min(yes_v, no_v)  # after the cancels every held pair is free
    assert w.complete == (not live and w.burn_pairs == 0)
