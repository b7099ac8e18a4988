"""Fan-out of the platform's WebSocket book feed (docs/push.md; issue 15): how many
subscribers × markets one ASGI server holds with delta latency p99 ≤ 50 ms.

Starts the production push server (`gunicorn -c ammproject/gunicorn_asgi.conf.py`: uvicorn
workers, one event-stream reader per worker; or `--server daphne`) on a dedicated database
and Redis db, opens S WebSocket subscribers (`websockets` clients in separate processes)
spread evenly over M markets, then appends book deltas to the `book_events` stream at a
steady rate (entries exactly as the relay writes them, `ts_ms` = the moment of the append)
and measures, per delta received, append → client receive. `--source orders` makes the
deltas the real way instead (orders placed and cancelled through the platform's services,
the outbox relay as a process) and measures commit → client receive, at the rates the
engine and relay reach on this machine.

    .venv/bin/python bench/fanout.py [--configs 100x10,500x50,...] [--rate 2] [--seconds 5]
                                     [--workers 1] [--server uvicorn|daphne] [--client-procs 2]
                                     [--source stream|orders]

Prints a row per configuration (subscribers, markets, deltas/s in, messages/s out, p50, p99,
gaps) and the largest configuration whose p99 ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

from _setup import ROOT, django_on_bench_db, machine_speed, pct

BENCH_DB = "amm_bench_fanout"
BENCH_REDIS_DB = 11  # bench/api.py uses 12, the tests 13..15
TARGET_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(kind: str, port: int, workers: int, database_url: str, redis_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DEBUG": "false",
           "ASGI_BIND": f"127.0.0.1:{port}", "ASGI_WORKERS": str(workers), "GUNICORN_LOG_LEVEL": "warning"}
    if kind == "uvicorn":
        args = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "ammproject" / "gunicorn_asgi.conf.py")]
    else:  # one daphne process (daphne has no workers of its own); installed only for this comparison
        import importlib.util

        if importlib.util.find_spec("daphne") is None:
            raise SystemExit("--server daphne needs daphne (not in requirements.txt): .venv/bin/pip install daphne")
        args = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "ammproject.asgi:application"]
    server = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"{kind} exited with {server.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/markets", timeout=2)
            return server
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{kind} did not come up within 60 s")


# --- subscribers (client processes) ---------------------------------------------------------
def subscribers(url: str, key: str, markets: list[str], ready, start_at, stop_at, out) -> None:
    """One process: a WebSocket per entry of `markets`; the book rebuilt from SNAPSHOT and
    DELTAs (LocalOrderBook); latencies of the deltas received in [start_at, stop_at)."""
    import uvloop
    from websockets.asyncio.client import connect

    from amm.strategy.book import LocalOrderBook

    latencies: list[float] = []
    counts = {"gaps": 0, "received": 0, "failed": 0}
    handshakes = asyncio.Semaphore(20)
    started = asyncio.Event()

    async def one(market: str, opened: asyncio.Event) -> None:
        try:
            async with handshakes:
                ws = await connect(f"{url}/ws/v1/orderbook/{market}?token={key}", open_timeout=60,
                                   compression=None, max_queue=None)
                book = LocalOrderBook(market)
                book.apply_snapshot(json.loads(await ws.recv()))
            opened.set()
            await started.wait()
            start_ms, stop_ms = start_at.value * 1000, stop_at.value * 1000
            try:
                async with asyncio.timeout(stop_at.value - time.time() + 1):  # one timer, not one per message
                    async for text in ws:
                        now = time.time() * 1000
                        message = json.loads(text)
                        if not book.apply_delta(message):
                            counts["gaps"] += 1
                            book.apply_snapshot({"sequence_id": message["sequence_id"], "bids": [], "asks": []})
                        if start_ms <= now < stop_ms:
                            latencies.append(now - message["ts_ms"])
                            counts["received"] += 1
            except TimeoutError:
                pass
            await ws.close()
        except Exception:  # noqa: BLE001  (a refused connection is counted, not fatal)
            counts["failed"] += 1
            opened.set()

    async def main() -> None:
        opened = [asyncio.Event() for _ in markets]
        tasks = [asyncio.create_task(one(m, e)) for m, e in zip(markets, opened)]
        await asyncio.gather(*(e.wait() for e in opened))
        ready.release()
        while start_at.value > 1e17:  # the window is set once every process has its subscribers open
            await asyncio.sleep(0.01)
        started.set()
        await asyncio.gather(*tasks)

    uvloop.run(main())
    out.put((latencies, counts))


# --- the producer: book deltas as the relay appends them -----------------------------------------
class Producer:
    def __init__(self, redis_url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(redis_url)
        self.event_id = int(time.time() * 1000)  # grows across runs: the hub dedupes by event id per market

    def run(self, markets: list[str], rate: float, until: float) -> int:
        sequences = dict.fromkeys(markets, 0)
        tick, sent, started, i = 0.005, 0, time.time(), 0
        while (now := time.time()) < until:
            due = int((now - started) * rate) - sent
            pipe = self.redis.pipeline(transaction=False)
            for _ in range(due):
                market = markets[i % len(markets)]
                i += 1
                prev = sequences[market]
                sequences[market] = seq = prev + 2  # one transaction: an order entry and its fill
                self.event_id += 1
                data = {"market_id": market, "prev_sequence_id": prev, "sequence_id": seq,
                        "bids": [[40 + seq % 10, seq % 50]], "asks": []}
                pipe.xadd("book_events", {"event_id": self.event_id, "type": "book_delta", "market_id": market,
                                          "sequence_id": seq, "ts_ms": int(time.time() * 1000),
                                          "data": json.dumps(data)}, maxlen=10_000, approximate=True)
            if due:
                pipe.execute()
                sent += due
            time.sleep(tick)
        return sent


class OrderProducer:
    """The whole path: real orders committed through the platform's services (each place or
    cancel one transaction, one book delta), the outbox relay (`manage.py exchange_relay`, a
    process) publishing them; latency from the outbox row's time (inside the transaction)."""

    def __init__(self, user_id: str, database_url: str, redis_url: str) -> None:
        self.user_id = user_id
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "DEBUG": "false"}
        self.relay = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "exchange_relay"], cwd=ROOT, env=env,
                                      start_new_session=True, stderr=subprocess.DEVNULL)
        self.live: dict[str, str] = {}
        self.redis_url = redis_url

    def warm_up(self, market: str) -> None:
        """Wait until the relay publishes (its start-up is not the fan-out's latency)."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        before = client.xlen("book_events")
        self.run([market], 1.0, time.time() + 1.1)  # one order
        deadline = time.time() + 120
        while client.xlen("book_events") == before and time.time() < deadline:
            time.sleep(0.1)

    def run(self, markets: list[str], rate: float, until: float) -> int:
        from exchange.services import NewOrder, order_cancel, order_place

        sent, started, i = 0, time.time(), 0
        while (now := time.time()) < until:
            for _ in range(int((now - started) * rate) - sent):
                market = markets[i % len(markets)]
                i += 1
                if market in self.live:
                    order_cancel(user_id=self.user_id, order_id=self.live.pop(market))
                else:
                    new = NewOrder(uuid.uuid4().hex, "YES", "BUY", 10 + i % 30, 1 + i % 5)
                    self.live[market] = str(order_place(user_id=self.user_id, market_id=market, new=new).order.id)
                sent += 1
            time.sleep(0.002)
        return sent

    def stop(self) -> None:
        os.killpg(self.relay.pid, signal.SIGTERM)
        self.relay.wait(20)


def run_config(url: str, key: str, markets: list[str], subs: int, rate: float, seconds: float, procs: int,
               producer: Producer | OrderProducer) -> dict:
    assignment = [markets[i % len(markets)] for i in range(subs)]
    ready = mp.Semaphore(0)
    start_at, stop_at = mp.Value("d", 1e18), mp.Value("d", 1e18)
    out: mp.Queue = mp.Queue()
    workers = [mp.Process(target=subscribers, args=(url, key, assignment[p::procs], ready, start_at, stop_at, out))
               for p in range(procs)]
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire(timeout=300)
    warmup = 1.0
    start_at.value = time.time() + warmup
    stop_at.value = start_at.value + seconds
    sent = producer.run(markets, rate, stop_at.value + 0.5)
    results = [out.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    latencies = [x for lat, _ in results for x in lat]
    counts = {k: sum(c[k] for _, c in results) for k in ("gaps", "received", "failed")}
    return {"subs": subs, "markets": len(markets), "rate": sent / (seconds + warmup + 0.5),
            "out": counts["received"] / seconds, "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99),
            **counts}


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="100x10,250x25,500x50,1000x100,2000x100,2000x200",
                        help="SUBSCRIBERSxMARKETS,...")
    parser.add_argument("--rate", type=float, default=2.0,
                        help="book deltas appended per second per market (a busy book moves a few times a second)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement window per configuration")
    parser.add_argument("--workers", type=int, default=1, help="ASGI server worker processes")
    parser.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    parser.add_argument("--client-procs", type=int, default=2, help="subscriber processes")
    parser.add_argument("--source", choices=["stream", "orders"], default="stream",
                        help="stream: deltas appended to book_events as the relay writes them; orders: real orders "
                             "through the services and the relay process (commit -> client receive)")
    args = parser.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]

    database_url = django_on_bench_db(BENCH_DB)
    from django.conf import settings

    from ammproject.redis import url_with_db
    from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create

    redis_url = url_with_db(settings.REDIS_URL, BENCH_REDIS_DB)
    user, _ = user_get_or_create(username=f"bench_fanout_{uuid.uuid4().hex[:6]}")
    account_deposit(user_id=str(user.id), amount_cents=10**10)
    key = api_key_issue(user=user)
    all_markets = [f"FAN-{i:04d}" for i in range(max(m for _, m in configs))]
    for market_id in all_markets:
        market_create(market_id=market_id, title="fan-out bench")
    port = free_port()
    server = start_server(args.server, port, args.workers, database_url, redis_url)
    served = ("gunicorn -c ammproject/gunicorn_asgi.conf.py (uvicorn workers: uvloop, httptools, websockets)"
              if args.server == "uvicorn" else "daphne ammproject.asgi:application")
    print(f"server: {served}, {args.workers} worker(s); {args.client_procs} subscriber processes; "
          f"{args.rate:g} deltas/s per market; {args.seconds:g} s per configuration; "
          f"{os.cpu_count()} CPUs shared by server, subscribers, producer, Redis", flush=True)
    producer = OrderProducer(str(user.id), database_url, redis_url) if args.source == "orders" else Producer(redis_url)
    source = ("orders placed and cancelled through the services, published by the relay process; latency from "
              "the outbox row (commit)" if args.source == "orders" else "entries appended to book_events as the relay "
              "writes them; latency from the append")
    print(f"deltas: {source}", flush=True)
    if isinstance(producer, OrderProducer):
        producer.warm_up(all_markets[0])
    print(f"{'subscribers':>11} {'markets':>7} {'deltas/s':>9} {'msgs/s out':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'gaps':>5} {'failed':>6}  p99 ≤ {TARGET_P99_MS:g} ms", flush=True)
    best = None
    try:
        for subs, markets in configs:
            row = run_config(f"ws://127.0.0.1:{port}", key, all_markets[:markets], subs, args.rate * markets,
                             args.seconds, args.client_procs, producer)
            ok = row["p99"] <= TARGET_P99_MS and not row["failed"] and not row["gaps"]
            print(f"{row['subs']:>11} {row['markets']:>7} {row['rate']:>9.0f} {row['out']:>10.0f} {row['p50']:>8.2f} "
                  f"{row['p99']:>8.2f} {row['gaps']:>5} {row['failed']:>6}  {'yes' if ok else 'NO'}", flush=True)
            if ok and (best is None or (subs, markets) > (best["subs"], best["markets"])):
                best = row
    finally:
        if isinstance(producer, OrderProducer):
            producer.stop()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    if best:
        print(f"largest passing: {best['subs']} subscribers × {best['markets']} markets at {best['rate']:.0f} "
              f"deltas/s ({best['out']:.0f} messages/s out), p99 {best['p99']:.2f} ms")
    else:
        print("no configuration passed")


if __name__ == "__main__":
    main()
