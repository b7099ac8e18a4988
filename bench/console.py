"""The operator surfaces at scale (issue 11): the monitoring API's instance list, the
dashboard's data call, the admin's changelist and the Prometheus scrape, for 30, 100 and 300
markets, each market with live orders in Redis and an hour of dashboard history.

For each it prints p50/p99 latency (in-process through Django's test client: the view, the
selectors, PostgreSQL and Redis; no network or gunicorn), SQL queries and Redis round trips
per request (both should be constant in the number of markets), and the answer's size.

Runs on a database of its own (amm_bench_console) and a throwaway redis-server of its own.

    .venv/bin/python bench/console.py [--markets 30 100 300] [--requests 30]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _setup import django_on_bench_db, machine_speed, pct, throwaway_redis  # noqa: E402

HISTORY_SAMPLES = 360  # an hour at the sampler's default 10 s


def seed(first: int, last: int) -> None:
    """Markets first..last-1: an AMM instance and config, Redis state with 8 live orders, and
    an hour of history."""
    from amm import state
    from amm.runtime.history_sampler import history_sample
    from amm.services import instance_enable
    from amm.state import OrderEntry
    from amm.models import AMMInstance

    ids = [f"MKT-BENCH-{i:04d}" for i in range(first, last)]
    for market_id in ids:
        instance_enable(market_id=market_id, budget_cents=500_000, actor="bench")
        orders = [OrderEntry(f"{market_id}-o{k}", "YES" if k % 2 else "NO", "SELL", 51 + k, 10, 10,
                             "NATIVE_SELL" if k % 2 else "SYNTHETIC_BUY", 1_000) for k in range(8)]
        state.market_rebuild(
            market_id, yes_volume=1200, yes_cost_sum=60_000, yes_pending_sell=40, no_volume=900, no_cost_sum=45_000,
            no_pending_sell=40, cash_mode="available", cash_value=300_000,
            market_meta={"status": "ACTIVE", "maker_fee_bps": 0, "taker_fee_bps": 50, "min_price_cents": 1,
                         "max_price_cents": 99},
            orders=orders,
            state={"phase": "STABILIZATION", "defense_level": "NORMAL", "kill_switch": "OFF",
                   "fair_price_cents": 52, "sigma_cents": 2.5, "inventory_skew": 0.14,
                   "last_requote_ms": state.now_ms()},
            state_defaults={"daily_pnl_cents": 0, "total_fills_today": 0},
            expected_cursor=state.trade_cursor_get(),
        )
    AMMInstance.objects.filter(market_id__in=ids).update(lifecycle_state="RUNNING")
    now = state.now_ms()
    for k in range(HISTORY_SAMPLES):
        history_sample(ids, now_ms=now - (HISTORY_SAMPLES - k) * 10_000)


def measure(client, url: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.amm.dashboard.support import redis_round_trips

    client.get(url)  # warm
    latencies = []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as queries, redis_round_trips() as trips:
            started = time.perf_counter()
            response = client.get(url)
            latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return {"p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99), "queries": len(queries),
            "trips": trips["n"], "bytes": len(response.content)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markets", type=int, nargs="+", default=[30, 100, 300])
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    print(machine_speed())
    with throwaway_redis() as url:
        os.environ["REDIS_URL"] = url  # nothing here may reach the app's Redis
        django_on_bench_db("amm_bench_console")
        from django.contrib.auth import get_user_model
        from django.test import Client

        from ammproject.redis import get_redis

        user = get_user_model().objects.create_superuser("bench", password="bench-pass-1")
        client = Client()
        client.force_login(user)
        since = int(time.time()) - 20
        endpoints = {
            "API instances list (one page)": "/api/amm/v1/instances?page_size={n}",
            "dashboard data (first load)": "/amm/dashboard/data",
            "dashboard data (refresh)": f"/amm/dashboard/data?since={since}",
            "admin changelist": "/admin/amm/amminstance/?all=",
            "metrics scrape": "/api/amm/v1/metrics",
        }
        seeded = 0
        rows = []
        for n in sorted(args.markets):
            seed(seeded, n)
            seeded = n
            print(f"-- {n} markets seeded (Redis {get_redis().info('memory')['used_memory_human']})", flush=True)
            for name, template in endpoints.items():
                figures = measure(client, template.format(n=n), args.requests)
                rows.append((n, name, figures))
                print(f"{n:>5}  {name:<32} p50 {figures['p50']:8.1f} ms  p99 {figures['p99']:8.1f} ms  "
                      f"SQL {figures['queries']:>3}  Redis trips {figures['trips']:>3}  {figures['bytes'] / 1024:8.1f} KB",
                      flush=True)
        print("\nconstant in the number of markets (SQL queries, Redis round trips):")
        for name in endpoints:
            counts = {(r[2]["queries"], r[2]["trips"]) for r in rows if r[1] == name}
            print(f"  {name:<32} {'yes' if len(counts) == 1 else 'NO'}  {sorted(counts)}")
        largest = max(args.markets)
        for name in ("API instances list (one page)", "dashboard data (first load)"):
            p50 = next(r[2]["p50"] for r in rows if r[0] == largest and r[1] == name)
            print(f"{name} at {largest} markets: p50 {p50:.1f} ms, ratio to a 1 s refresh: {p50 / 1000:.2f}")


if __name__ == "__main__":
    main()
