"""amm:history:{m} and markets_live_read against real Redis: what a sample holds, the cap and
the TTL, one round trip to read and one to write whatever the number of markets, and the
memory an hour of samples takes."""
from __future__ import annotations

import pytest

from amm import state
from amm.runtime.history_sampler import history_sample
from amm.state import keys as K
from tests.amm.conftest import seed_market
from tests.amm.dashboard.support import order, redis_round_trips


def test_a_sample_is_one_short_string_and_decodes_to_itself():
    sample = state.HistorySample(ts_s=1_733_526_000, fair=52, bid=51, ask=54, yes=1200, no=800, skew=0.2, pnl=-350)
    assert sample.encode() == "1733526000|52|51|54|1200|800|200|-350"
    assert state.HistorySample.decode(sample.encode()) == sample
    empty = state.HistorySample(ts_s=5, fair=None, bid=None, ask=None, yes=0, no=0, skew=None, pnl=None)
    assert empty.encode() == "5||||0|0||"
    assert state.HistorySample.decode(empty.encode()) == empty


def test_the_sampler_records_fair_price_best_quotes_inventory_skew_and_pnl(redis_conn):
    seed_market("S-1", yes=700, no=300, orders=[
        order("b1", "YES", "BUY", 48, 10, "NATIVE_BUY"),
        order("b2", "NO", "SELL", 50, 10, "SYNTHETIC_BUY"),  # YES-view bid 50: the best
        order("a1", "YES", "SELL", 53, 10, "NATIVE_SELL"),
        order("a2", "NO", "BUY", 48, 10, "SYNTHETIC_SELL"),  # YES-view ask 52: the best
    ])
    state.state_update("S-1", fair_price_cents=51, inventory_skew=0.4, daily_pnl_cents=-25)
    seed_market("S-QUIET")  # synced, no strategy state yet, no orders

    assert history_sample(["S-1", "S-QUIET", "S-UNKNOWN"], now_ms=1_700_000_123_456) == 2

    assert redis_conn.lrange(K.history_key("S-1"), 0, -1) == ["1700000123|51|50|52|700|300|400|-25"]
    assert redis_conn.lrange(K.history_key("S-QUIET"), 0, -1) == ["1700000123||||0|0||0"]
    assert not redis_conn.exists(K.history_key("S-UNKNOWN"))  # Redis keeps nothing of it: no sample


def test_history_keeps_the_window_and_expires_a_market_no_longer_sampled(redis_conn, settings):
    settings.AMM_HISTORY_SAMPLE_S = 10
    settings.AMM_HISTORY_WINDOW_S = 30
    seed_market("CAP")
    for i in range(5):
        state.state_update("CAP", fair_price_cents=40 + i)
        history_sample(["CAP"], now_ms=1_000_000 + i * 10_000)
    kept = state.history_get("CAP")
    assert [s.fair for s in kept] == [42, 43, 44]  # 30 s at one per 10 s: the newest three
    assert [s.ts_s for s in kept] == [1020, 1030, 1040]
    assert 30 < redis_conn.ttl(K.history_key("CAP")) <= 40
    assert [s.fair for s in state.history_get("CAP", since_s=1030)] == [44]


@pytest.mark.parametrize("count", [3, 30])
def test_sampling_is_one_round_trip_to_read_and_one_to_write(redis_conn, count):
    ids = [f"RT-{i}" for i in range(count)]
    for m in ids:
        seed_market(m, yes=5, orders=[order(f"{m}-o", "YES", "SELL", 60, 5, "NATIVE_SELL")])
    with redis_round_trips() as trips:
        assert history_sample(ids, now_ms=2_000_000) == count
    assert trips["n"] == 2
    assert all(redis_conn.llen(K.history_key(m)) == 1 for m in ids)


def test_an_hour_of_samples_stays_small(redis_conn):
    """Measured with large figures (five-digit inventories, six-digit PnL): about 16.5 KB on
    Redis 7.0 for 360 samples of about 42 bytes."""
    import random

    rng = random.Random(1)
    seed_market("MEM")
    for i in range(360):
        state.history_append_many({"MEM": state.HistorySample(
            ts_s=1_733_526_000 + 10 * i, fair=rng.randint(5, 95), bid=rng.randint(5, 95), ask=rng.randint(5, 95),
            yes=rng.randint(0, 50_000), no=rng.randint(0, 50_000), skew=rng.uniform(-1, 1),
            pnl=rng.randint(-500_000, 500_000))}, keep=360, ttl_s=3700)
    assert redis_conn.llen(K.history_key("MEM")) == 360
    assert redis_conn.memory_usage(K.history_key("MEM"), samples=0) < 20_000


def test_markets_live_read_reads_any_number_of_markets_in_one_round_trip(redis_conn):
    seed_market("L-1", yes=10, no=4, orders=[order("o1", "NO", "SELL", 45, 7, "SYNTHETIC_BUY"),
                                             order("o2", "YES", "SELL", 58, 3, "NATIVE_SELL")])
    state.state_update("L-1", fair_price_cents=56, kill_switch="OFF")
    with redis_round_trips() as trips:
        live = state.markets_live_read(["L-1", "L-NONE"])
    assert trips["n"] == 1
    one = live["L-1"]
    assert one["best_bid"] == {"price": 55, "qty": 7} and one["best_ask"] == {"price": 58, "qty": 3}
    assert [o["order_id"] for o in one["orders"]] == ["o1", "o2"]  # best bid first, then the asks
    assert one["inventory"]["yes_volume"] == 10 and one["state"]["fair_price_cents"] == 56
    assert one["market"]["status"] == "ACTIVE"
    none = live["L-NONE"]
    assert none["inventory"] is None and none["orders"] == [] and none["best_bid"] is None and none["market"] is None
