"""What a running market keeps in Redis stays small and bounded (issue 15: memory per market):
the StrategyState blob is stored compactly and losslessly, and stops growing once its σ window
is full; the fills waiting for a cycle are capped."""
from __future__ import annotations

import json

from amm import state
from amm.state import keys as K
from amm.state.strategy_codec import px_from_steps, px_steps, strategy_parse, strategy_text, ts_from_runs, ts_runs
from amm.strategy import (
    Inventory,
    LiveOrder,
    LocalOrderBook,
    MarketInfo,
    OracleReading,
    StrategyConfig,
    StrategyState,
    decide,
)

M = "MKT-MEM"
START_MS = 1_750_000_000_000


def run_cycles(strategy: StrategyState, first: int, count: int) -> StrategyState:
    """`count` one-second cycles of a market whose mid wanders by a cent now and then."""
    config = StrategyConfig()
    market = MarketInfo(M, maker_fee_bps=10, taker_fee_bps=20, trading_end_ms=START_MS + 20 * 86_400_000)
    inventory = Inventory(yes_volume=500, no_volume=400, yes_available=500, no_available=400,
                          yes_cost_sum_cents=25_000, no_cost_sum_cents=20_000, cash_cents=100_000)
    live: tuple[LiveOrder, ...] = ()
    for i in range(first, first + count):
        now = START_MS + i * 1_000
        mid = 50 + (i // 37) % 5
        book = LocalOrderBook(M, bids={mid - 1 - j: 100 for j in range(5)}, asks={mid + 1 + j: 100 for j in range(5)},
                              sequence_id=i + 1)
        decision = decide(state=strategy, market=market, inventory=inventory, config=config, now_ms=now, book=book,
                          live_orders=live, oracle=OracleReading(mid + 0.5, now - 500, "test"), fills=(),
                          daily_pnl_cents=0)
        strategy = decision.state
        live = tuple(LiveOrder(f"o{i}-{n}", q.side, q.direction, q.price_cents, q.quantity, q.book_type)
                     for n, q in enumerate(decision.quotes))
    return strategy


def test_sample_times_are_stored_as_runs_of_equal_steps_and_read_back_exactly():
    times = [1_000, 6_000, 11_000, 16_000, 17_500, 19_000, 30_000, 35_000]
    assert ts_runs(times) == [1_000, 5_000, 3, 1_500, 2, 11_000, 1, 5_000, 1]
    assert ts_from_runs(ts_runs(times)) == times
    assert ts_runs([]) == [] and ts_from_runs([]) == []
    assert ts_from_runs(ts_runs([42])) == [42]


def test_sample_prices_are_stored_as_steps_only_when_that_is_exact():
    prices = [48.939, 48.6757, 49.0, 0.0001, 99.9999, 48.6757]
    assert px_steps(prices) == [489_390, -2_633, 3_243, -489_999, 999_998, -513_242]
    assert px_from_steps(px_steps(prices)) == prices
    assert px_steps([48.12345]) is None and px_steps([float("nan")]) is None  # not 4 decimals: kept as floats
    odd = {"market_id": M, "sample_ts": [1, 2], "sample_px": [48.12345, 1.5]}
    assert json.loads(strategy_text(odd))["sample_px"] == [48.12345, 1.5]
    assert strategy_parse(strategy_text(odd)) == odd


def test_a_kept_strategy_state_round_trips_through_redis_unchanged(redis_conn):
    strategy = run_cycles(StrategyState.initial(M, START_MS), 0, 400)
    assert len(strategy.sample_ts) > 50
    state.cycle_commit(M, strategy=strategy.to_dict(), now=START_MS)

    assert state.strategy_get(M) == strategy.to_dict()
    assert StrategyState.from_dict(state.runtime_cycle_read(M).strategy) == strategy
    stored = json.loads(redis_conn.get(K.strategy_key(M)))
    assert isinstance(stored, list) and M not in redis_conn.get(K.strategy_key(M))  # compact: the key names the market
    runs, px = stored[-2], stored[-1]
    assert len(runs) < 10  # a steady sampling step: a few runs of sample times
    assert px.startswith("h")  # the prices' steps as int16, base64


def test_a_strategy_blob_in_the_runs_and_steps_form_is_still_read(redis_conn):
    """What the version before the compact form wrote (sample times as runs, prices as steps)."""
    strategy = run_cycles(StrategyState.initial(M, START_MS), 0, 60).to_dict()
    redis_conn.set(K.strategy_key(M), strategy_text(strategy))  # without the market id: that form
    assert "sample_ts_runs" in json.loads(redis_conn.get(K.strategy_key(M)))
    assert state.strategy_get(M) == strategy
    assert state.runtime_cycle_read(M).strategy == strategy


def test_a_strategy_blob_stored_in_the_plain_form_is_still_read(redis_conn):
    strategy = run_cycles(StrategyState.initial(M, START_MS), 0, 60).to_dict()
    redis_conn.set(K.strategy_key(M), json.dumps(strategy))  # as stored before the compact form
    assert state.strategy_get(M) == strategy
    assert state.runtime_cycle_read(M).strategy == strategy


def test_the_strategy_blob_stops_growing_once_the_sigma_window_is_full(redis_conn):
    """Hours of cycles keep one window of samples: the stored blob an hour later is no larger
    than when the window had just filled (give or take a few digits)."""
    strategy = run_cycles(StrategyState.initial(M, START_MS), 0, 1_200)
    state.cycle_commit(M, strategy=strategy.to_dict(), now=START_MS)
    after_20_min = redis_conn.strlen(K.strategy_key(M))
    strategy = run_cycles(strategy, 1_200, 3_600)
    state.cycle_commit(M, strategy=strategy.to_dict(), now=START_MS)
    after_80_min = redis_conn.strlen(K.strategy_key(M))
    assert after_80_min <= after_20_min * 1.1
    assert after_80_min < 700  # the window's price steps (2 bytes each, base64) and a few runs of sample times


def test_fills_waiting_for_a_cycle_are_capped(redis_conn):
    for start in range(0, 3 * K.FILLS_KEEP, 50):
        state.fills_push(M, [{"price_cents": 40, "quantity": 1, "trade_id": str(start + i)} for i in range(50)])
    assert redis_conn.llen(K.fills_key(M)) == K.FILLS_KEEP
    kept = state.runtime_cycle_read(M).fills
    assert [f["trade_id"] for f in kept] == [str(i) for i in range(2 * K.FILLS_KEEP, 3 * K.FILLS_KEEP)]  # the newest
