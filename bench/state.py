"""AMM Redis working state (issue 4): the hot-path costs and the memory of one market.

For one market with 20 live orders (seed Appendix C: "4–20 live orders") it measures
- one quote cycle's Redis read (`amm.state.quote_cycle_read`: inventory, orders, state,
  config version, oracle, market metadata in one MULTI/EXEC round trip), p50/p99 µs;
- applying one fill (`amm.state.fill_apply`: the atomic Lua script — dedup, inventory,
  cost basis, cash in every kept market, order remaining, counters, journal), p50/p99 µs;
- Redis memory per market: MEMORY USAGE of each key, against Appendix C's estimates.

Uses a dedicated logical Redis database (AMM_BENCH_REDIS_DB, default 11) of REDIS_URL
(or the embedded Redis), flushed first; no PostgreSQL is touched.

    .venv/bin/python bench/state.py [--cycles 5000] [--fills 5000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import pct  # noqa: E402

MARKET = "MKT-BTC-100K-2026"
LIVE_ORDERS = 20
# seed Appendix C (bytes)
SEED_INVENTORY, SEED_ORDER, SEED_STATE, SEED_CONFIG = 200, 200, 300, 400
SEED_MARKET_TOTAL = 5_000


def setup(conn, market_id: str) -> list[str]:
    from amm import state
    from amm.strategy.config import StrategyConfig

    state.market_rebuild(
        market_id, yes_volume=1800, yes_cost_sum=90_000, yes_pending_sell=0, no_volume=1500, no_cost_sum=75_000,
        no_pending_sell=0, cash_mode="available", cash_value=420_000_000,
        market_meta={"status": "ACTIVE", "min_price_cents": 1, "max_price_cents": 99, "maker_fee_bps": 20,
                     "taker_fee_bps": 50, "trading_end_ms": 1_790_000_000_000, "resolution_ms": 1_790_000_000_000,
                     "reserve_balance": 10_000_000, "total_yes_shares": 100_000, "total_no_shares": 100_000},
        orders=[], state={"phase": "STABILIZATION", "fair_price_cents": 65, "sigma_cents": 3.2,
                          "inventory_skew": 0.0909, "last_requote_ms": 1_740_652_800_000, "daily_pnl_cents": -1500,
                          "total_fills_today": 47, "lvr_cooldown_until": 0, "kill_switch": "OFF",
                          "defense_level": "NORMAL"},
        expected_cursor=0, conn=conn)
    state.config_write(market_id, StrategyConfig().as_redis_mapping(), version=1, conn=conn)
    state.oracle_write(market_id, price_cents=64.5, ts_ms=1_740_652_800_000, source="http", conn=conn)
    order_ids = []
    for i in range(LIVE_ORDERS):
        side, direction, book = [("YES", "SELL", "NATIVE_SELL"), ("YES", "BUY", "NATIVE_BUY"),
                                 ("NO", "SELL", "SYNTHETIC_BUY"), ("NO", "BUY", "SYNTHETIC_SELL")][i % 4]
        oid = f"{i:08x}-8400-4e29-b1d4-0123456789ab"  # UUID-sized ids, as the platform's
        state.order_track(market_id, order_id=oid, side=side, direction=direction, price=40 + i % 20,
                          qty=10_000_000 if i == 0 else 100, book_type=book, created_ms=1_740_652_800_000 + i,
                          client_order_id=f"amm_{market_id}_{side}_{direction}_1740652800000_{i}", conn=conn)
        order_ids.append(oid)
    conn.delete("amm:journal")  # the journal is flushed to PostgreSQL; not per-market state
    return order_ids


def timed(fn, n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        fn(i)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--fills", type=int, default=5000)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
    import django

    django.setup()
    from django.conf import settings

    from amm import state
    from amm.state import FillLeg
    from ammproject.redis import url_with_db
    import redis

    conn = redis.Redis.from_url(url_with_db(settings.REDIS_URL, int(os.environ.get("AMM_BENCH_REDIS_DB", "11"))),
                                decode_responses=True)
    conn.flushdb()
    order_ids = setup(conn, MARKET)
    print(f"Redis {conn.info('server')['redis_version']} at {settings.REDIS_URL.split('@')[-1]} "
          f"(db {conn.connection_pool.connection_kwargs.get('db')}); market {MARKET} with {LIVE_ORDERS} live orders")

    # memory before any fill (the processed set is measured separately below)
    usage = state.market_memory_usage(MARKET, conn=conn)
    inv, orders = usage[f"amm:inventory:{MARKET}"], usage[f"amm:orders:{MARKET}"]
    st, cfg = usage[f"amm:state:{MARKET}"], usage[f"amm:config:{MARKET}"]
    oracle, meta = usage.get(f"amm:oracle:{MARKET}", 0), usage.get(f"amm:market:{MARKET}", 0)
    seed_total = inv + orders + st + cfg
    n_config = conn.hlen(f"amm:config:{MARKET}")

    # quote cycle read
    for _ in range(200):
        state.quote_cycle_read(MARKET, conn=conn)
    read = timed(lambda i: state.quote_cycle_read(MARKET, conn=conn), args.cycles)
    assert len(state.quote_cycle_read(MARKET, conn=conn).orders) == LIVE_ORDERS

    # fills: partial fills of one large resting order (stays live), unique trade ids
    leg = [FillLeg(order_ids[0], "YES", "SELL", 60, 1, 1, "NATIVE_SELL")]
    fill = timed(lambda i: state.fill_apply(MARKET, trade_id=1_000_000 + i, legs=leg, conn=conn), args.fills)
    dup = timed(lambda i: state.fill_apply(MARKET, trade_id=1_000_000 + i, legs=leg, conn=conn), min(args.fills, 2000))
    processed = conn.memory_usage(f"amm:processed:{MARKET}", samples=0)
    n_processed = conn.scard(f"amm:processed:{MARKET}")
    journal = conn.memory_usage("amm:journal", samples=0) or 0

    print()
    print("hot path                                   p50 µs    p99 µs")
    print(f"quote cycle read (1 round trip, {LIVE_ORDERS} orders) {pct(read, .5):9.1f} {pct(read, .99):9.1f}")
    print(f"apply one fill (Lua, atomic)               {pct(fill, .5):9.1f} {pct(fill, .99):9.1f}")
    print(f"repeated fill refused (Lua dedup)          {pct(dup, .5):9.1f} {pct(dup, .99):9.1f}")
    print(f"  -> {1e6 / pct(fill, .5):,.0f} fills/s and {1e6 / pct(read, .5):,.0f} quote-cycle reads/s "
          "on one connection")
    print()
    print("memory per market (MEMORY USAGE)      bytes   seed App. C   ratio")
    rows = [
        ("amm:inventory (8 fields)", inv, SEED_INVENTORY),
        (f"amm:orders ({LIVE_ORDERS} orders)", orders, SEED_ORDER * LIVE_ORDERS),
        ("amm:state (10 fields)", st, SEED_STATE),
        (f"amm:config ({n_config} fields)", cfg, SEED_CONFIG),
    ]
    for name, got, est in rows:
        print(f"{name:34s} {got:8d} {est:12d} {got / est:7.2f}")
    print(f"{'seed keys total':34s} {seed_total:8d} {SEED_MARKET_TOTAL:12d} {seed_total / SEED_MARKET_TOTAL:7.2f}")
    print(f"{'  per live order':34s} {orders / LIVE_ORDERS:8.0f} {SEED_ORDER:12d} {orders / LIVE_ORDERS / SEED_ORDER:7.2f}")
    print(f"{'amm:oracle (extension)':34s} {oracle:8d}")
    print(f"{'amm:market (extension)':34s} {meta:8d}")
    print(f"{'all keys of the market':34s} {seed_total + oracle + meta:8d} {SEED_MARKET_TOTAL:12d} "
          f"{(seed_total + oracle + meta) / SEED_MARKET_TOTAL:7.2f}")
    print(f"{'amm:processed after ' + str(n_processed) + ' fills':34s} {processed:8d}   "
          f"({processed / max(1, n_processed):.0f} B per trade id; seed: ~100 B in process memory)")
    print(f"{'amm:journal (shared, unflushed)':34s} {journal:8d}   "
          f"({journal / max(1, args.fills):.0f} B per fill event until order_journal_flush)")
    conn.flushdb()


if __name__ == "__main__":
    main()
