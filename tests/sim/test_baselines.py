"""The offline baselines (pure): exactly reproducible, an LMSR within Hanson's loss bound,
a symmetric quoter within its position limit, and PnL that splits exactly."""
import math

import pytest

from sim.baselines import BASELINES, Fill, LmsrMaker, MarketInputs, SymmetricQuoter, lmsr_b_for_depth, replay
from sim.flow import Arrival, TraderMix
from sim.metrics import maker_metrics
from sim.scenarios import true_path
from sim.simulation import SimConfig, plan


def _inputs(seed: int = 1, slot: int = 0, **overrides) -> MarketInputs:
    plans, arrivals = plan(SimConfig(markets=slot + 1, seeds=(seed,), duration=300))
    p = plans[slot]
    times = tuple(float(t) for t in range(301))
    values = dict(truth=p.truth, arrivals=tuple(a for a in arrivals if a.market == slot), quote_times=times,
                  fair=tuple(p.oracle.cents(t) for t in times), spread=4, size=50, levels=2, spacing=1,
                  position_limit=5000, maker_fee_bps=0, lmsr_b=lmsr_b_for_depth(50), lmsr_p0=p.oracle.cents(0))
    return MarketInputs(**{**values, **overrides})


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_a_replay_is_exactly_reproducible(name):
    first, again = replay(BASELINES[name], _inputs(slot=1)), replay(BASELINES[name], _inputs(slot=1))
    assert first.fills and first.fills == again.fills and first.quotes == again.quotes
    assert replay(BASELINES[name], _inputs(seed=2, slot=1)).fills != first.fills


def test_the_lmsr_loses_at_most_b_ln2_to_perfectly_informed_traders():
    truth = true_path(scenario="resolution", seed=7, market=0, horizon=200)
    # informed traders with the truth and no latency, every 0.5 s, large sizes: the worst case
    arrivals = tuple(Arrival(t=0.5 * k, market=0, kind="informed", trader=0, action="snipe", side=None, size=500,
                             value=truth.cents(0.5 * k), edge=0.0, seq=k) for k in range(400))
    b = 40.0
    inputs = MarketInputs(truth=truth, arrivals=arrivals, quote_times=(), fair=(), spread=2, size=10, levels=1,
                          spacing=1, position_limit=10**9, maker_fee_bps=0, lmsr_b=b, lmsr_p0=50.0)
    run = replay(LmsrMaker, inputs)
    final = 100.0 if truth.outcome == "YES" else 0.0
    pnl = sum(f.d * f.qty * (final - f.price) - f.fee for f in run.fills)
    assert pnl < 0  # it lost to them ...
    assert -pnl <= 100 * b * math.log(2) + 1e-6  # ... but never more than its bound
    assert run.params["worst_loss_from_50c_cents"] == pytest.approx(100 * b * math.log(2), abs=0.01)


def test_the_symmetric_quoter_stops_buying_at_its_position_limit():
    run = replay(SymmetricQuoter, _inputs(slot=2, position_limit=60, size=40))
    position, worst = 0, 0
    for f in sorted(run.fills, key=lambda f: f.t):
        position += f.d * f.qty
        worst = max(worst, abs(position))
    assert worst <= 60 + 40 * 2  # at most one requote's ladder past the limit, never more


def test_pnl_splits_exactly_into_spread_adverse_inventory_and_fees():
    inputs = _inputs(slot=0, maker_fee_bps=30)
    run = replay(SymmetricQuoter, inputs)
    final = inputs.truth.final_cents
    m = maker_metrics(fills=run.fills, quotes=run.quotes, truth=inputs.truth, final_value=final,
                      times=list(inputs.quote_times))
    cash = sum(-f.d * f.qty * f.price - f.fee for f in run.fills)
    net = sum(f.d * f.qty for f in run.fills)
    assert m["pnl_cents"] == pytest.approx(cash + net * final, abs=1e-6)
    assert m["pnl_cents"] == pytest.approx(m["spread_capture_cents"] + m["adverse_selection_cents"]
                                           + m["inventory_pnl_cents"] + m["fees_cents"], abs=1e-6)
    assert m["fees_cents"] < 0 and m["fills"] == len(run.fills)


def test_drawdown_and_loss_to_informed_follow_the_fills():
    truth = true_path(scenario="calm", seed=1, market=0, horizon=10)
    p = truth.cents(1.0)
    fills = [Fill(t=1.0, d=+1, qty=10, price=p + 5, kind="informed", mid=p + 4),
             Fill(t=2.0, d=-1, qty=10, price=truth.cents(2.0) + 1, kind="noise", mid=truth.cents(2.0))]
    m = maker_metrics(fills=fills, quotes=[], truth=truth, final_value=truth.final_cents, times=[0.0, 1.0, 2.0, 3.0])
    assert m["loss_to_informed_cents"] == pytest.approx(50.0)  # bought 10 at 5 c over the truth
    assert m["max_drawdown_cents"] == pytest.approx(50.0)
    assert m["by_kind"]["noise"]["markout_cents"] == pytest.approx(10.0)
    assert TraderMix().traders == (4, 2, 1)
