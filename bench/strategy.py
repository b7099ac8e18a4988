"""Time one full strategy decision for one market (target: p50 < 100 µs).

One `amm.strategy.decide` call = fair price (oracle guards, external micro-price, post-fill),
σ over a warm 10-minute sample window, γ/τ, the binary's risk and the reservation price,
the order-flow intensity, a ladder of 8 orders (order_levels = 4) inside the edge bounds,
defense, phase, LVR and the diff against the 8 live orders.

The market is a seeded random walk: each cycle (1 s of simulated time) the book moves, the
oracle updates every 5 s, a fill arrives every 7th cycle, 0–3 trades of others print near the
touch, and the previous decision's quotes are the live orders (as if the runtime had carried
them out). Inputs are built outside the
timed region; only `decide` is timed.

    .venv/bin/python bench/strategy.py [--cycles 20000] [--warmup 900] [--seed 7]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import machine_speed  # noqa: E402

from amm.strategy import (  # noqa: E402
    Fill,
    Inventory,
    LiveOrder,
    LocalOrderBook,
    MarketInfo,
    MarketTrade,
    OracleReading,
    StrategyConfig,
    StrategyState,
    decide,
)

DAY_MS = 86_400_000


def make_inputs(rng: random.Random, cycles: int, start_ms: int):
    """Precomputed per-cycle (now, book, oracle, fills, market trades)."""
    mid = 50.0
    out = []
    for i in range(cycles):
        now = start_ms + i * 1_000
        mid = min(90.0, max(10.0, mid + rng.choice((-0.5, 0.0, 0.0, 0.5))))
        center = int(mid)
        bids = {center - 1 - j: rng.randint(50, 400) for j in range(10)}
        asks = {center + 1 + j: rng.randint(50, 400) for j in range(10)}
        book = LocalOrderBook("BENCH", bids=bids, asks=asks, sequence_id=i + 1)
        book.bid_levels(), book.ask_levels()  # warm the sorted caches, as a live book would be
        oracle = OracleReading(round(mid + rng.uniform(-1, 1), 1), now - (i % 5) * 1_000, "bench")
        fills = (Fill(center + rng.choice((-3, 3)), rng.randint(5, 60), now - 200, f"t{i}"),) if i % 7 == 0 else ()
        trades = tuple(MarketTrade(center + rng.choice((-2, -1, 1, 2)), rng.randint(1, 30), now - 300, f"m{i}-{j}")
                       for j in range(rng.randint(0, 3)))
        out.append((now, book, oracle, fills, trades))
    return out


def live_from(quotes, cycle: int) -> tuple[LiveOrder, ...]:
    return tuple(
        LiveOrder(f"o{cycle}-{n}", q.side, q.direction, q.price_cents, q.quantity, q.book_type) for n, q in enumerate(quotes)
    )


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20_000)
    parser.add_argument("--warmup", type=int, default=900, help="untimed cycles to fill the σ window first")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    start_ms = 1_750_000_000_000
    config = StrategyConfig(order_levels=4)
    market = MarketInfo("BENCH", maker_fee_bps=10, taker_fee_bps=20, trading_end_ms=start_ms + 20 * DAY_MS)
    inventory = Inventory(
        yes_volume=2_000, no_volume=1_700, yes_available=1_600, no_available=1_300,
        yes_cost_sum_cents=100_000, no_cost_sum_cents=85_000, cash_cents=250_000,
    )
    total = args.warmup + args.cycles
    print(f"building {total} cycles of inputs (seed {args.seed}) …", flush=True)
    inputs = make_inputs(rng, total, start_ms)

    state = StrategyState.initial("BENCH", start_ms)
    live: tuple[LiveOrder, ...] = ()
    samples: list[int] = []
    orders = replacements = 0
    perf = time.perf_counter_ns
    for i, (now, book, oracle, fills, trades) in enumerate(inputs):
        t0 = perf()
        decision = decide(
            state=state, market=market, inventory=inventory, config=config, now_ms=now, book=book,
            live_orders=live, oracle=oracle, fills=fills, daily_pnl_cents=-1_000, market_trades=trades,
        )
        elapsed = perf() - t0
        if i >= args.warmup:
            samples.append(elapsed)
            orders += len(decision.quotes)
            replacements += len(decision.replacements)
        state = decision.state
        live = live_from(decision.quotes, i)
        if (i + 1) % 5_000 == 0:
            print(f"  {i + 1}/{total} cycles", flush=True)

    samples.sort()
    us = [s / 1_000 for s in samples]
    p50, p99 = us[len(us) // 2], us[min(len(us) - 1, int(len(us) * 0.99))]
    mean = statistics.fmean(us)
    n = len(us)
    print()
    print(f"decide(): {n} timed decisions after {args.warmup} warm-up cycles; σ window holds {len(state.sample_ts)} samples")
    print(f"  orders per ladder (mean)   {orders / n:6.2f}   replacement entries per cycle (mean) {replacements / n:5.2f}")
    learned = decision.intensity
    print(f"  learned order flow: A {learned.a_per_s:.2f} trades/s, k {learned.k_per_cent:.3f} per cent "
          f"(prior {config.arrival_decay_k}); σ {decision.sigma_cents:.2f} c at 50, V {decision.risk.variance:.2f} c²")
    print(f"  p50 {p50:8.1f} µs   p90 {us[int(n * 0.9)]:8.1f} µs   p99 {p99:8.1f} µs   max {us[-1]:8.1f} µs   mean {mean:6.1f} µs")
    print(f"  decisions per second per core: {1e6 / mean:,.0f}  (at p50: {1e6 / p50:,.0f})")
    print(f"  target p50 < 100 µs: {'met' if p50 < 100 else 'NOT met'} (ratio p50/target {p50 / 100:.2f}); cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
