"""The simulator's inputs (pure): true paths, oracle feeds and trader arrivals come from the
seed alone, and the one rule that turns an arrival into an order behaves as documented."""
import pytest

from sim.flow import Arrival, TraderMix, order_for
from sim.scenarios import SCENARIO_ORDER, OracleSpec, oracle_path, true_path
from sim.simulation import SimConfig, inputs_document, plan


def test_the_same_seed_gives_the_same_paths_oracles_and_arrivals():
    config = SimConfig(markets=5, seeds=(3, 4), duration=120)
    first, again = inputs_document(config, *plan(config)), inputs_document(config, *plan(config))
    assert first["markets"] == again["markets"] and first["arrivals"] == again["arrivals"]
    other = inputs_document(SimConfig(markets=5, seeds=(5, 4), duration=120), *plan(SimConfig(markets=5, seeds=(5, 4),
                                                                                                 duration=120)))
    assert other["markets"][0]["truth"] != first["markets"][0]["truth"]
    # a seed's markets do not depend on the other seeds of the run
    assert other["markets"][5:] == first["markets"][5:]
    assert {a["kind"] for a in first["arrivals"]} == {"noise", "informed", "stale"}


@pytest.mark.parametrize("scenario", SCENARIO_ORDER)
def test_paths_stay_probabilities_and_resolution_ends_at_its_outcome(scenario):
    path = true_path(scenario=scenario, seed=1, market=0, horizon=300)
    assert all(0.0 <= p <= 1.0 for p in path.probs) and len(path.probs) == 1501
    if scenario == "resolution":  # the event resolves at the window's end: the truth is its outcome
        assert path.probs[-1] == (1.0 if path.outcome == "YES" else 0.0)
    else:
        assert 0.0 < path.probs[-1] < 1.0


def test_the_oracle_reports_the_truth_delay_seconds_late():
    path = true_path(scenario="news", seed=2, market=1, horizon=60)
    feed = oracle_path(truth=path, spec=OracleSpec(interval=1.0, delay=3.0, noise_cents=0.0), seed=2, market=1)
    for t in (5.0, 20.5, 59.0):
        assert feed.cents(t) == pytest.approx(min(99.5, max(0.5, path.cents(int(t) - 3.0))), abs=1e-3)
        assert feed.observed_at(t) == int(t) - 3.0


def _arrival(**kw) -> Arrival:
    base = dict(t=1.0, market=0, kind="noise", trader=0, action="take", side="BUY", size=5)
    return Arrival(**{**base, **kw})


def test_an_informed_trader_trades_only_against_a_mispriced_book():
    snipe = _arrival(kind="informed", action="snipe", side=None, size=20, value=60.0, edge=1.5)
    assert order_for(snipe, 55, 58) == order_for(snipe, None, 58)
    assert order_for(snipe, 55, 58).side == "BUY" and order_for(snipe, 55, 58).price == 58  # floor(60 − 1.5)
    assert order_for(snipe, 55, 59) is None  # 59 > 58.5: not enough edge
    sell = order_for(snipe, 62, 64)
    assert sell.side == "SELL" and sell.price == 62 and sell.tif == "IOC"


def test_noise_takers_skip_wide_spreads_and_resting_orders_never_cross():
    take = _arrival(max_spread=10, edge=1)
    assert order_for(take, 40, 52) is None
    assert order_for(take, 45, 50).price == 51 and order_for(take, 45, 50).tif == "IOC"
    rest = _arrival(action="rest", edge=1, ttl=10.0)
    assert order_for(rest, 45, 46).price == 45  # one cent above the bid would cross: capped below the ask
    assert order_for(rest, None, None) is None
    sell = order_for(_arrival(action="rest", side="SELL", edge=0), 45, 50)
    assert sell.price == 50 and sell.tif == "GTC"


def test_a_trader_mix_names_rates_and_refuses_nonsense():
    mix = TraderMix.parse("noise=0.8, informed=0.2, stale=0")
    assert (mix.noise_rate, mix.informed_rate, mix.stale_on) == (0.8, 0.2, False)
    for bad in ("noise", "noise=-1", "whales=3", "informed=abc"):
        with pytest.raises(ValueError):
            TraderMix.parse(bad)
