"""Clearing engine throughput on PostgreSQL (issue 2).

Runs the engine's services in-process (no HTTP) on a dedicated database, for a realistic
mix: resting orders, crossing orders, cancels and 8-order atomic replaces, spread over
several markets. Prints order operations per second (one process, then N processes on
different markets), the p50/p99 latency of each kind of call (one 8-order replace among
them), and where the time goes: SQL statements per call, this process's CPU (Python and the
driver) versus waiting on the database, and the database backend's own CPU per call (read
from /proc when the server runs on this machine).

    .venv/bin/python bench/engine.py [--ops 3000] [--procs 2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import time
import uuid
from collections import Counter

from _setup import django_on_bench_db, pct, summary, machine_speed

TARGET_OPS = 1_000


def setup_world(markets: int, traders: int):
    from exchange.enums import AMM_USER_ID
    from exchange.services import account_deposit, amm_mint, market_create, user_get_or_create

    market_ids = []
    for i in range(markets):
        market_id = f"BENCH-{i}-{uuid.uuid4().hex[:6]}"
        market_create(market_id=market_id, title="bench", maker_fee_bps=0, taker_fee_bps=20)
        market_ids.append(market_id)
    users = []
    for i in range(traders):
        user, _ = user_get_or_create(username=f"bench_{uuid.uuid4().hex[:8]}")
        account_deposit(user_id=str(user.id), amount_cents=10**9)
        users.append(str(user.id))
    account_deposit(user_id=AMM_USER_ID, amount_cents=10**10)
    for market_id in market_ids:
        amm_mint(user_id=AMM_USER_ID, market_id=market_id, quantity=100_000, request_id=uuid.uuid4().hex)
    return market_ids, users


def backend_cpu_seconds() -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend (None: not readable here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Timer:
    """Counts SQL statements and time spent executing them (driver + server + network)."""

    def __init__(self):
        self.queries = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.queries += 1


def run_mix(market_ids: list[str], users: list[str], ops: int, seed: int, progress: bool = True):
    from django.db import connection

    from exchange.enums import AMM_USER_ID
    from exchange.exceptions import ExchangeError
    from exchange.models import Order
    from exchange.services import NewOrder, Replacement, order_cancel, order_place, orders_replace

    rng = random.Random(seed)
    resting: list[tuple[str, str]] = []  # (user, order id)
    replace_ms: list[float] = []
    latency_ms: dict[str, list[float]] = {}  # per kind of call
    counts: Counter = Counter()
    order_ops = 0
    timer = Timer()
    backend_start = backend_cpu_seconds()
    cpu_start = time.process_time()
    start = time.perf_counter()
    with connection.execute_wrapper(timer):
        for i in range(ops):
            market = rng.choice(market_ids)
            roll = rng.random()
            t_call = time.perf_counter()
            kind = None
            try:
                if roll < 0.15:  # the AMM requotes 8 orders atomically
                    mid = rng.randint(45, 55)
                    news = [NewOrder(uuid.uuid4().hex, "YES", "SELL", mid + 2 + k, 10) for k in range(4)]
                    news += [NewOrder(uuid.uuid4().hex, "NO", "SELL", 100 - mid + 2 + k, 10) for k in range(4)]
                    olds = [str(o) for o in Order.objects.filter(  # the takers may have filled some
                        user_id=AMM_USER_ID, market_id=market, status__in=["OPEN", "PARTIALLY_FILLED"])
                        .values_list("id", flat=True)[:8]]
                    pairs = [Replacement(olds[k] if k < len(olds) else None, news[k]) for k in range(8)]
                    t0 = time.perf_counter()
                    result = orders_replace(user_id=AMM_USER_ID, market_id=market, replacements=pairs)
                    replace_ms.append((time.perf_counter() - t0) * 1000)
                    counts["replace8"] += 1
                    kind = "replace8"
                    order_ops += len(result.cancelled) + len(result.placed)
                elif roll < 0.35 and resting:  # cancel a resting order
                    user, order_id = resting.pop(rng.randrange(len(resting)))
                    order_cancel(user_id=user, order_id=order_id)
                    counts["cancel"] += 1
                    kind = "cancel"
                    order_ops += 1
                elif roll < 0.60:  # a taker crosses the AMM's quotes
                    user = rng.choice(users)
                    side = rng.choice(["YES", "NO"])
                    result = order_place(user_id=user, market_id=market,
                                         new=NewOrder(uuid.uuid4().hex, side, "BUY", 70, rng.randint(1, 5), "IOC"))
                    kind = "cross" if result.trades else "cross_missed"
                    counts[kind] += 1
                    order_ops += 1
                else:  # a resting order away from the touch
                    user = rng.choice(users)
                    side = rng.choice(["YES", "NO"])
                    result = order_place(user_id=user, market_id=market,
                                         new=NewOrder(uuid.uuid4().hex, side, "BUY", rng.randint(5, 40), rng.randint(1, 50)))
                    resting.append((user, str(result.order.id)))
                    counts["rest"] += 1
                    kind = "rest"
                    order_ops += 1
            except ExchangeError as exc:
                counts[f"rejected:{exc.code}"] += 1
            if kind is not None:
                latency_ms.setdefault(kind, []).append((time.perf_counter() - t_call) * 1000)
            if progress and (i + 1) % max(1, ops // 10) == 0:
                print(f"  ... {i + 1}/{ops} operations", flush=True)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    backend_end = backend_cpu_seconds()
    backend = None if backend_start is None or backend_end is None else backend_end - backend_start
    return {"elapsed": elapsed, "order_ops": order_ops, "calls": ops, "replace_ms": replace_ms, "counts": counts,
            "queries": timer.queries, "sql_seconds": timer.seconds, "latency_ms": latency_ms, "cpu_seconds": cpu,
            "backend_seconds": backend}


def _worker(args):
    url, market_ids, users, ops, seed = args
    import os

    os.environ["DATABASE_URL"] = url
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
    django.setup()
    return run_mix(market_ids, users, ops, seed, progress=False)


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=3000, help="operations in the single-process run")
    parser.add_argument("--procs", type=int, default=2, help="processes in the parallel run (one market set each)")
    args = parser.parse_args()

    url = django_on_bench_db()
    from django.db import connection

    from exchange.invariants import invariants_check

    print(f"engine benchmark on PostgreSQL {connection.pg_version // 10000} ({connection.settings_dict['HOST'] or 'socket'})")
    market_ids, users = setup_world(markets=4, traders=20)
    run_mix(market_ids, users, 200, seed=99, progress=False)  # warm-up
    print(f"single process, {args.ops} operations (15% 8-order replace, 20% cancel, 25% cross, 40% rest):")
    one = run_mix(market_ids, users, args.ops, seed=1)
    rate = one["order_ops"] / one["elapsed"]
    calls = one["calls"] / one["elapsed"]
    cpu_share = one["cpu_seconds"] / one["elapsed"]
    print(f"  mix: {dict(one['counts'])}")
    print(f"  order operations/s: {rate:8.0f}   (target {TARGET_OPS}: ratio {rate / TARGET_OPS:.2f})")
    print(f"  service calls/s:    {calls:8.0f}")
    print(f"  replace of 8 orders (ms): {summary(one['replace_ms'])}")
    print("  latency per kind of call (ms; replace8 includes the bench's own read of the old order ids):")
    for kind, values in sorted(one["latency_ms"].items()):
        print(f"    {kind:<13} {summary(values)}   ({len(values)} calls)")
    per_call = one["elapsed"] / one["calls"] * 1000
    backend = one["backend_seconds"]
    backend_text = "" if backend is None else f"; the database backend used {backend / one['calls'] * 1000:.2f} ms CPU"
    print(f"  where the time goes: {one['queries'] / one['calls']:.1f} SQL statements per call "
          f"(pipelined ones included); of {per_call:.2f} ms per call, {cpu_share:.0%} is this process's CPU "
          f"(Python, ORM, driver) and {1 - cpu_share:.0%} waiting on the database{backend_text}")

    print(f"{args.procs} processes, each on its own markets:")
    sets = [setup_world(markets=2, traders=10) for _ in range(args.procs)]
    ctx = mp.get_context("spawn")
    connection.close()
    with ctx.Pool(args.procs) as pool:
        started = time.perf_counter()
        results = pool.map(_worker, [(url, m, u, args.ops // args.procs, 10 + i) for i, (m, u) in enumerate(sets)])
        wall = time.perf_counter() - started
    total = sum(r["order_ops"] for r in results)
    replace_all = [ms for r in results for ms in r["replace_ms"]]
    print(f"  order operations/s: {total / wall:8.0f}   (ratio to target {total / wall / TARGET_OPS:.2f}; "
          f"wall includes process start)")
    print(f"  replace of 8 orders (ms): {summary(replace_all)}")
    violations = invariants_check()
    print(f"invariants after the run: {'all hold' if not violations else violations[:3]}")


if __name__ == "__main__":
    main()
