"""The event relay (docs/push.md): how long a committed change takes to reach its stream.

The platform's services run in this process on a dedicated database; `manage.py
exchange_relay` runs as its own process, as deployed. Orders are placed one at a time at a
steady rate; a reader blocked on XREAD notes when each order's event arrives, so the figure
is commit -> XADD -> read (the read adds a round trip on the loopback). Then a backlog: the
relay stopped while orders commit, started again, and how fast it publishes them.

    .venv/bin/python bench/relay.py [--orders 400] [--rate 100] [--backlog 600] [--redis-url URL]

Without --redis-url a throwaway redis-server is started; with it, the database of that URL
is used and the event streams in it are deleted first.

First, the flush's own cost of the outbox, measured apart from the machine's drift: bench/
engine.py's operation mix in blocks, alternately with the outbox on and off (off: the flush's
`_outbox_insert` replaced by one that writes nothing), in this one process, relay not running.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from _setup import ROOT, django_on_bench_db, machine_speed, pct, throwaway_redis

BENCH_DB = "amm_bench_relay"
STREAMS = ("trade_events", "order_events", "market_events", "book_events")


def start_relay(database_url: str, redis_url: str, log_path: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1",
           "DJANGO_SETTINGS_MODULE": "ammproject.settings"}
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "exchange_relay"], cwd=ROOT, env=env,
                            stdout=open(log_path, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


class Arrivals(threading.Thread):
    """XREAD BLOCK on order_events: the wall time each order's first event arrived."""

    def __init__(self, client) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.seen: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        last = "0-0"
        while not self.done.is_set():
            for _, entries in self.client.xread({"order_events": last}, block=200, count=1000) or []:
                now = time.time()
                for entry_id, fields in entries:
                    last = entry_id
                    self.seen.setdefault(json.loads(fields["data"])["id"], now)


def world():
    from exchange.services import account_deposit, market_create, user_get_or_create

    market_id = f"RELAY-{uuid.uuid4().hex[:6]}"
    market_create(market_id=market_id, title="relay bench")
    users = []
    for _ in range(2):
        user, _ = user_get_or_create(username=f"relay_{uuid.uuid4().hex[:8]}")
        account_deposit(user_id=str(user.id), amount_cents=10**9)
        users.append(str(user.id))
    return market_id, users


def place(market_id: str, users: list[str], i: int):
    from exchange.services import NewOrder, order_place

    # the two users alternate sides at one price: orders rest, then cross and trade
    new = NewOrder(uuid.uuid4().hex, "YES" if i % 2 else "NO", "BUY", 50, 1 + i % 3)
    return order_place(user_id=users[i % 2], market_id=market_id, new=new).order


def wait_published(timeout_s: float = 60) -> None:
    from exchange.models import OutboxEvent

    deadline = time.monotonic() + timeout_s
    while OutboxEvent.objects.filter(published_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the relay did not publish the outbox in time")
        time.sleep(0.05)


def flush_overhead(blocks: int, ops: int) -> None:
    import statistics

    from engine import run_mix, setup_world

    from exchange.services.clearing.flush import Flush

    with_outbox = Flush._outbox_insert
    market_ids, users = setup_world(markets=4, traders=20)
    run_mix(market_ids, users, 200, seed=99, progress=False)  # warm-up
    rates: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for block in range(blocks):
            for mode in ("on", "off") if block % 2 == 0 else ("off", "on"):
                Flush._outbox_insert = with_outbox if mode == "on" else (lambda self: None)
                result = run_mix(market_ids, users, ops, seed=block, progress=False)
                rates[mode].append(result["order_ops"] / result["elapsed"])
                db = result["backend_seconds"] or 0.0
                cpu[mode].append((result["cpu_seconds"] + db) / result["calls"] * 1000)
    finally:
        Flush._outbox_insert = with_outbox
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    cpu_on, cpu_off = statistics.median(cpu["on"]), statistics.median(cpu["off"])
    print(f"flush overhead ({blocks} blocks of {ops} engine operations each way, interleaved; medians):")
    print(f"  order operations/s: outbox off {off:.0f}, on {on:.0f}: ratio {on / off:.3f}")
    print(f"  CPU per call (this process + its database backend): off {cpu_off:.2f} ms, on {cpu_on:.2f} ms: "
          f"ratio {cpu_on / cpu_off:.3f}")


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=400, help="orders placed one at a time, paced")
    parser.add_argument("--rate", type=float, default=100, help="orders per second while measuring latency")
    parser.add_argument("--backlog", type=int, default=600, help="orders committed while the relay is stopped")
    parser.add_argument("--redis-url", help="use this Redis (its event streams are deleted first)")
    parser.add_argument("--blocks", type=int, default=6, help="blocks each way of the flush overhead A/B (0: skip)")
    parser.add_argument("--block-ops", type=int, default=300, help="engine operations per block")
    args = parser.parse_args()

    database_url = django_on_bench_db(BENCH_DB)
    import redis
    from django.db.models import Max, Min

    from exchange.models import OutboxEvent

    if args.blocks:
        flush_overhead(args.blocks, args.block_ops)
    with (contextlib.nullcontext(args.redis_url) if args.redis_url else throwaway_redis()) as redis_url:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        client.delete(*STREAMS, "exchange_outbox:published")
        market_id, users = world()
        log = os.path.join(tempfile.gettempdir(), f"bench-relay-{os.getpid()}.log")
        relay = start_relay(database_url, redis_url, log)
        try:
            arrivals = Arrivals(client)
            arrivals.start()
            for i in range(20):  # warm-up: the relay's process and connections are up
                place(market_id, users, i)
            wait_published()
            committed: dict[str, float] = {}
            interval = 1 / args.rate
            next_at = time.perf_counter()
            for i in range(args.orders):
                order = place(market_id, users, i)
                committed[str(order.id)] = time.time()  # order_place returns once its transaction committed
                next_at += interval
                time.sleep(max(0.0, next_at - time.perf_counter()))
            wait_published()
            deadline = time.monotonic() + 10
            while not committed.keys() <= arrivals.seen.keys() and time.monotonic() < deadline:
                time.sleep(0.05)
            arrivals.done.set()
            lat = [(arrivals.seen[o] - t) * 1000 for o, t in committed.items() if o in arrivals.seen]
            print(f"commit -> XADD -> XREAD, {len(lat)} orders at {args.rate:.0f}/s, one at a time "
                  f"(relay woken by NOTIFY): p50 {pct(lat, 0.5):.2f} ms  p99 {pct(lat, 0.99):.2f} ms  "
                  f"max {max(lat):.2f} ms")
            if len(lat) < len(committed):
                print(f"  MISSING: {len(committed) - len(lat)} orders never reached order_events")

            stop(relay)
            before = OutboxEvent.objects.aggregate(Max("id"))["id__max"]
            for i in range(args.backlog):
                place(market_id, users, i)
            pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
            relay = start_relay(database_url, redis_url, log)
            wait_published()
            span = OutboxEvent.objects.filter(id__gt=before).aggregate(a=Min("published_at"), b=Max("published_at"))
            seconds = max((span["b"] - span["a"]).total_seconds(), 1e-3)
            print(f"backlog: {pending} events published in {seconds * 1000:.0f} ms (first to last): "
                  f"{pending / seconds:,.0f} events/s")
            print("streams (entries, bytes per entry): " + ", ".join(
                f"{s} {client.xlen(s)}, {client.memory_usage(s, samples=0) / max(client.xlen(s), 1):.0f} B" for s in STREAMS))
        finally:
            stop(relay)
        print(f"relay log: {log}")


if __name__ == "__main__":
    main()
