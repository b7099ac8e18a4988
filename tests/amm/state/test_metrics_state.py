"""amm/state's metrics extensions against real Redis: the counters ride on commands the hot
path already sends (no extra round trip), buckets follow Prometheus's `le` (inclusive), and
the scrape's read is one round trip."""
from __future__ import annotations


from amm import state
from amm.state import FillLeg
from tests.amm.conftest import redis_sends, seed_market


def test_cycle_commit_counts_the_latency_in_its_one_round_trip(market_in_redis, monkeypatch):
    sends = redis_sends(monkeypatch)
    state.cycle_commit(market_in_redis, state_fields={"fair_price_cents": 50}, latency_s=0.05, outcome="quoted")
    assert len(sends) == 1
    state.cycle_commit(market_in_redis, latency_s=11.0, outcome="quoted")
    state.cycle_end(now=state.now_ms(), outcome="idle", latency_s=0.0004)
    monkeypatch.undo()
    h = state.metrics_read([]).cycle_latency
    quoted = dict(h["quoted"].buckets)
    assert quoted["0.025"] == 0 and quoted["0.05"] == 1  # le is inclusive
    assert quoted["10.0"] == 1 and quoted["+Inf"] == 2 and h["quoted"].count == 2
    assert abs(h["quoted"].sum_s - 11.05) < 1e-6
    assert dict(h["idle"].buckets)["0.005"] == 1


def test_a_commit_without_latency_counts_nothing(market_in_redis):
    state.cycle_commit(market_in_redis, state_fields={"fair_price_cents": 50})
    state.cycle_end(now=state.now_ms(), outcome="busy")
    assert state.metrics_read([]).cycle_latency == {}


def test_the_fill_script_counts_fills_applied_once(market_in_redis):
    leg = FillLeg("x1", "YES", "BUY", 40, 5, 0, "NATIVE_BUY")
    assert state.fill_apply(market_in_redis, trade_id=1, legs=[leg])
    assert not state.fill_apply(market_in_redis, trade_id=1, legs=[leg])  # the same trade again
    assert state.fill_apply(market_in_redis, trade_id=2, legs=[leg])
    assert state.metrics_read([]).fills_total == {market_in_redis: 2}


def test_metrics_read_is_one_round_trip_for_any_number_of_markets(redis_conn, monkeypatch):
    ids = [f"M-{i}" for i in range(7)]
    for market_id in ids:
        seed_market(market_id, yes=3)
    sends = redis_sends(monkeypatch)
    read = state.metrics_read(ids + ["M-UNKNOWN"])
    assert len(sends) == 1
    assert read.markets["M-3"].inventory.yes_volume == 3
    assert not read.markets["M-UNKNOWN"].inventory.exists
