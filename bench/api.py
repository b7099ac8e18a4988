"""Platform REST API over loopback, served as in production (issue 3).

Starts `gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi` (N gthread workers of 4 threads by
default) as a subprocess on a dedicated database (amm_bench_api, dropped and migrated
afresh) and a dedicated Redis logical db, then drives it from several client processes
(one httpx client each, real HTTP) and prints requests per second and p50/p99 latency for

  - GET  /api/v1/account/balance
  - POST /api/v1/orders                (resting limit orders, one market per client)
  - POST /api/v1/amm/orders/replace    (8 cancels + 8 new orders in one atomic call)

    .venv/bin/python bench/api.py [--workers CPUs] [--threads 4] [--clients 4] [--seconds 8] [--asgi]

`--asgi` serves the same calls with the push feeds' ASGI server (uvicorn workers) instead:
the comparison behind README "Serving".
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

from _setup import ROOT, django_on_bench_db, pct, machine_speed

BENCH_DB = "amm_bench_api"
BENCH_REDIS_DB = 12  # the tests use 13..15 (one per xdist worker)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_world(clients: int) -> list[dict]:
    """One user (API key, cash) and one market per client process."""
    from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create

    world = []
    for i in range(clients):
        user, _ = user_get_or_create(username=f"bench_api_{i}_{uuid.uuid4().hex[:6]}")
        account_deposit(user_id=str(user.id), amount_cents=10**11)
        market_id = f"BENCH-API-{i}-{uuid.uuid4().hex[:6]}"
        market_create(market_id=market_id, title="api bench", maker_fee_bps=0, taker_fee_bps=20)
        world.append({"key": api_key_issue(user=user), "market": market_id})
    return world


def start_server(port: int, workers: int, threads: int, database_url: str, redis_url: str,
                 asgi: bool = False) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "ASGI_BIND": f"127.0.0.1:{port}",
        "ASGI_WORKERS": str(workers),
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_LOG_LEVEL": "warning",
        "EXCHANGE_REPLACE_RATE_LIMIT": str(10**9),  # measure the call, not the limiter's 429
        "DEBUG": "false",
    }
    env.pop("GUNICORN_ACCESS_LOG", None)
    config = ["-c", str(ROOT / "ammproject" / "gunicorn_asgi.conf.py")] if asgi else \
        ["-c", str(ROOT / "ammproject" / "gunicorn.conf.py"), "ammproject.wsgi"]
    command = [sys.executable, "-m", "gunicorn", *config]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/schema/", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not come up within 30 s")


def client(scenario: str, base: str, key: str, market: str, seconds: float, start_at: float, out) -> None:
    """One client process: back-to-back requests for `seconds`, latencies in ms."""
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would swamp the figures
    http = httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=30)
    seq = 0
    latencies: list[float] = []
    errors = 0
    live: list[str] = []

    def order(price: int) -> dict:
        nonlocal seq
        seq += 1
        return {"client_order_id": f"{uuid.uuid4().hex[:12]}-{seq}", "side": "YES", "direction": "BUY",
                "price_cents": price, "quantity": 1}

    if scenario == "replace":  # 8 resting bids to replace (bids only: nothing crosses)
        body = {"market_id": market, "replacements": [{"old_order_id": None, "new": order(10 + i)} for i in range(8)]}
        live = [o["id"] for o in http.post("/amm/orders/replace", json=body).json()["placed"]]
    while time.time() < start_at:
        time.sleep(0.005)
    end = start_at + seconds
    while time.time() < end:
        if scenario == "balance":
            request = ("GET", "/account/balance", None)
        elif scenario == "orders":
            request = ("POST", "/orders", {"market_id": market, **order(5 + seq % 30)})
        else:
            replacements = [{"old_order_id": old, "new": order(10 + (seq + i) % 30)} for i, old in enumerate(live)]
            request = ("POST", "/amm/orders/replace", {"market_id": market, "replacements": replacements})
        t0 = time.perf_counter()
        response = http.request(request[0], request[1], json=request[2])
        latencies.append((time.perf_counter() - t0) * 1000)
        if response.status_code >= 300:
            errors += 1
        elif scenario == "replace":
            live = [o["id"] for o in response.json()["placed"]]
    out.put((latencies, errors))


def run(scenario: str, base: str, world: list[dict], seconds: float) -> tuple[list[float], int, float]:
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 1.0  # every client starts together, after its setup
    procs = [mp.Process(target=client, args=(scenario, base, w["key"], w["market"], seconds, start_at, queue))
             for w in world]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = [x for lat, _ in results for x in lat]
    return latencies, sum(e for _, e in results), seconds


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per worker (>1: gthread with keep-alive, the production default; 1: sync)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (one connection each)")
    parser.add_argument("--asgi", action="store_true",
                        help="serve with the push feeds' ASGI server instead (gunicorn_asgi.conf.py: uvicorn workers)")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each scenario")
    args = parser.parse_args()

    database_url = django_on_bench_db(BENCH_DB)
    from django.conf import settings

    from ammproject.redis import url_with_db

    redis_url = url_with_db(settings.REDIS_URL, BENCH_REDIS_DB)
    world = setup_world(args.clients)
    port = free_port()
    server = start_server(port, args.workers, args.threads, database_url, redis_url, args.asgi)
    base = f"http://127.0.0.1:{port}/api/v1"
    kind = f"gthread workers × {args.threads} threads" if args.threads > 1 else "sync workers"
    command = "gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi"
    if args.asgi:
        kind, command = "uvicorn workers (ammproject.asgi)", "gunicorn -c ammproject/gunicorn_asgi.conf.py"
    print(f"served by: {command} — {args.workers} {kind} "
          f"on 127.0.0.1:{port}, DEBUG off, database {BENCH_DB}, Redis db {BENCH_REDIS_DB}, "
          f"dead man's switch sweeper on; {os.cpu_count()} CPUs shared by server, clients and PostgreSQL")
    print(f"clients: {args.clients} processes, one httpx client each, back-to-back requests over loopback, "
          f"{args.seconds:g} s per call")
    try:
        for scenario, label in [("balance", "GET  /api/v1/account/balance"),
                                ("orders", "POST /api/v1/orders (resting limit order)"),
                                ("replace", "POST /api/v1/amm/orders/replace (8 cancels + 8 orders)")]:
            latencies, errors, seconds = run(scenario, base, world, args.seconds)
            print(f"{label:58s} {len(latencies) / seconds:8.1f} req/s   p50 {pct(latencies, 0.5):7.2f} ms   "
                  f"p99 {pct(latencies, 0.99):7.2f} ms   n={len(latencies)} errors={errors}", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
