"""AMM runtime under load (issue 6): tick-to-quote latency, cycles per second, AMM CPU per
cycle, and the largest number of markets that holds a 1-second requote interval here.

For each N in --markets (default 10 50 100 200), on a dedicated database (amm_bench_runtime, or
AMM_BENCH_RUNTIME_DB; dropped and migrated afresh) and Redis logical db (AMM_BENCH_RUNTIME_REDIS_DB, default 10):
N markets with the AMM enabled (requote_interval_ms 1000), the platform under gunicorn (its
production config), `manage.py run_amm --market ... --workers W` as a subprocess, and a
taker process crossing a random market's quotes every 1/--taker-rate s (an IOC BUY YES or
BUY NO at 99 for one ladder level, so the AMM must replace the order it lost).

  tick-to-quote   from the trade's `executed_at` (written by the platform in the fill's
                  transaction) to the AMM's acknowledgement of its requote of that market: the
                  first `last_requote_ms` of amm:state:{m} after the fill (the taker process
                  polls it every 2 ms). Also shown: fill -> the first new AMM order of that
                  market written by the platform (orders.created_at).
  cycles/s        quote cycles committed (the runtime's `cycles` counter in amm:runtime:{m}),
                  summed over the markets, per second of the window.
  requote age     now - last_requote_ms at each sample; N holds the 1 s interval when the p99
                  age is ≤ 1.5 s and cycles/s ≥ 0.9 N.
  CPU             psutil times of run_amm and all its workers (+ reaped children), of
                  gunicorn, of the taker, and the rest of the machine (PostgreSQL, Redis,
                  anything else running) over the window; AMM CPU per cycle = AMM CPU / cycles
                  (fixed costs included: the feed job polls trades every 10 ms), and a fit over
                  the N tried separates the fixed part from the marginal CPU per cycle.
  in the platform the platform's own time per AMM replace, from gunicorn's access log
                  (bench/out/platform_access.log, %(D)s: the request read to the answer
                  written): what of a replace call is the platform's.
  fill cycle      wall time of the fill-triggered cycles that sent a replace, from run_amm's
                  INFO log: what of tick-to-quote is the cycle itself, the rest is the feed's
                  poll delay and the queue.

  push on / off   (issue 15, --push both, the default) each N runs twice in the same run:
                  run_amm with AMM_PUSH=false (the REST feeds: long-polled trades, status
                  polling, a REST book read per cycle) and with AMM_PUSH=true (the platform's
                  event stream, `manage.py exchange_relay` running throughout, and the
                  WebSocket books from the platform's ASGI server, `gunicorn_asgi.conf.py`).
                  The platform serves REST from the same gunicorn in both.
  fast lane       (--lane both) each push mode also runs with AMM_FAST_LANE_THREADS=0: fills'
                  and book moves' requotes through the RQ queue as before the fast lane
                  (amm/runtime/fast_lane.py), shown as "on/q" / "off/q".
  tick lanes      (--ticks both) each mode also runs with AMM_TICK_LANE=false: the periodic
                  batches as RQ jobs, as before the tick lanes (amm/runtime/tick_lane.py),
                  shown with "/rq"; the report compares cycles/s, AMM CPU per cycle and age.
  book-move-to-requote   a mover thread of the taker process places, every 1/--move-rate s,
                  a one-share GTC bid one cent above a random market's best bid (inside the
                  spread: the AMM's quote is bettered), from the order's `created_at` to the
                  market's next acknowledged requote (`last_requote_ms`), then cancels it.

Figures and ratios are printed; bench/out/runtime_latency.png plots the distributions.

    .venv/bin/python bench/runtime.py [--markets 10 50 100 200] [--workers 3] [--seconds 15] [--push both|on|off] [--lane on|off|both]
                                [--ticks lanes|rq|both]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import random
import re
import statistics
import threading
import time
import uuid
from bisect import bisect_right
from pathlib import Path

from _setup import ROOT, django_on_bench_db, pct, machine_speed

AMM_USER_ID = "00000000-0000-4000-a000-000000000001"

BENCH_DB = os.environ.get("AMM_BENCH_RUNTIME_DB", "amm_bench_runtime")  # dropped and made afresh: one per concurrent run
OUT = ROOT / "bench" / "out"
INTERVAL_MS = 1000
ORDER_SIZE = 10
TARGET_P50_MS, TARGET_P99_MS, TARGET_N = 50.0, 250.0, 100
PUSH_P50_MS, PUSH_P99_MS = 10.0, 50.0  # issue 15's tick-to-quote targets with push on


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def iso_ms(value: str) -> int:
    return int(dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


# --- the taker process ---------------------------------------------------------------------------------
def taker(base: str, key: str, markets: list[str], rate: float, seconds: float, redis_url: str, start_at: float,
          out, move_rate: float = 0.0) -> None:
    """Cross one ladder level of a random market every 1/rate s; for each fill, wait (in a
    watcher thread) for the market's next acknowledged requote. Puts its records on `out`."""
    import logging

    import httpx
    import psutil
    import redis

    logging.getLogger("httpx").setLevel(logging.WARNING)
    http = httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=10)
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    rng = random.Random(7)
    pending: list[tuple[str, int]] = []  # (market, fill ms)
    lock = threading.Lock()
    fills: list[tuple[str, int, int | None]] = []  # (market, fill ms, ack ms or None)
    done = threading.Event()

    def watch() -> None:
        while not (done.is_set() and not pending):
            with lock:
                batch = list(pending)
            if batch:
                pipe = conn.pipeline(transaction=False)
                for market_id, _ in batch:
                    pipe.hget(f"amm:state:{market_id}", "last_requote_ms")
                values = pipe.execute()
                now = time.time() * 1000
                with lock:
                    for (market_id, fill_ms), value in zip(batch, values):
                        ack = int(float(value or 0))
                        if ack > fill_ms or now - fill_ms > 5000:
                            fills.append((market_id, fill_ms, ack if ack > fill_ms else None))
                            pending.remove((market_id, fill_ms))
            time.sleep(0.002)

    moves: list[tuple[str, int, int | None]] = []  # (market, order created ms, requote ack ms or None)

    def wait_requote(conn_, market_id: str, since_ms: int) -> int | None:
        while time.time() * 1000 - since_ms < 5000:
            ack = int(float(conn_.hget(f"amm:state:{market_id}", "last_requote_ms") or 0))
            if ack > since_ms:
                return ack
            time.sleep(0.002)
        return None

    def mover() -> None:
        """Better a random market's best bid by a cent (a one-share GTC bid inside the
        spread), wait for that market's next acknowledged requote, cancel the bid."""
        mrng = random.Random(11)
        mhttp = httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=10)
        mconn = redis.Redis.from_url(redis_url, decode_responses=True)
        next_move = start_at
        while time.time() < start_at + seconds:
            time.sleep(max(0.0, next_move - time.time()))
            next_move += 1.0 / move_rate
            market_id = mrng.choice(markets)
            try:
                book = mhttp.get(f"/orderbook/{market_id}", params={"depth": 1}).json()
                if not book.get("bids") or not book.get("asks") or book["asks"][0][0] - book["bids"][0][0] < 3:
                    continue
                response = mhttp.post("/orders", json={
                    "market_id": market_id, "client_order_id": uuid.uuid4().hex, "side": "YES", "direction": "BUY",
                    "price_cents": book["bids"][0][0] + 1, "quantity": 1, "time_in_force": "GTC"})
                if response.status_code >= 300:
                    continue
                order = response.json()["order"]
                created = iso_ms(order["created_at"])
                moves.append((market_id, created, wait_requote(mconn, market_id, created)))
                mhttp.delete(f"/orders/{order['id']}")
            except (httpx.HTTPError, KeyError, ValueError):
                continue

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    moving = threading.Thread(target=mover, daemon=True) if move_rate > 0 else None
    if moving is not None:
        moving.start()
    while time.time() < start_at:
        time.sleep(0.005)
    cpu_start = sum(psutil.Process().cpu_times()[:2])
    sent = errors = 0
    next_at = start_at
    while time.time() < start_at + seconds:
        market_id = rng.choice(markets)
        body = {"market_id": market_id, "client_order_id": uuid.uuid4().hex, "side": rng.choice(("YES", "NO")),
                "direction": "BUY", "price_cents": 99, "quantity": ORDER_SIZE, "time_in_force": "IOC"}
        try:
            response = http.post("/orders", json=body)
            sent += 1
            trades = response.json().get("trades", []) if response.status_code < 300 else []
            if response.status_code >= 300:
                errors += 1
            if trades:
                with lock:
                    pending.append((market_id, min(iso_ms(t["executed_at"]) for t in trades)))
                conn.incr("bench:fills")
        except httpx.HTTPError:
            errors += 1
        next_at += 1.0 / rate
        time.sleep(max(0.0, next_at - time.time()))
    done.set()
    watcher.join(timeout=10)
    if moving is not None:
        moving.join(timeout=10)
    out.put({"fills": fills, "moves": moves, "sent": sent, "errors": errors,
             "cpu": sum(psutil.Process().cpu_times()[:2]) - cpu_start})


# --- the sampler ---------------------------------------------------------------------------------------
# Every market's last_requote_ms in one command: 600 markets read by a pipeline of HGETs every 50 ms
# are 12,000 commands a second, a tenth of the machine's CPU between Redis and this process.
_SAMPLE_LUA = "local out = {} for i, key in ipairs(KEYS) do out[i] = redis.call('HGET', key, 'last_requote_ms') or '' end return out"


class Sampler(threading.Thread):
    """Every 50 ms, one read (a script) of every market's last_requote_ms: cycles and ages."""

    def __init__(self, conn, markets: list[str]) -> None:
        super().__init__(daemon=True)
        self.conn, self.markets = conn, markets
        self.read = conn.register_script(_SAMPLE_LUA)
        self.keys = [f"amm:state:{m}" for m in markets]
        self.stop_event = threading.Event()
        self.last: dict[str, int] = {}
        self.cycles = 0
        self.ages: list[float] = []
        self.max_age: dict[str, float] = {}

    def run(self) -> None:
        while not self.stop_event.is_set():
            values = self.read(keys=self.keys)
            now = time.time() * 1000
            for m, value in zip(self.markets, values):
                v = int(float(value or 0))
                if m in self.last and v != self.last[m]:
                    self.cycles += 1
                self.last[m] = v
                if v:
                    age = now - v
                    self.ages.append(age)
                    self.max_age[m] = max(self.max_age.get(m, 0.0), age)
            self.stop_event.wait(0.05)


# --- CPU accounting ------------------------------------------------------------------------------------
def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants, plus their reaped children."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database` (its process title names it)."""
    import psutil

    out = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
            if cmdline and cmdline[0].startswith("postgres:") and f" {database} " in f" {cmdline[0]} ":
                t = proc.cpu_times()
                out[proc.pid] = t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def redis_cpu(conn) -> float:
    """CPU seconds of the whole redis-server (shared with anything else using it)."""
    info = conn.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def own_cpu() -> float:
    """CPU seconds of this process's own threads (not its children: gunicorn, run_amm, the taker)."""
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def machine_cpu() -> float:
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0)


def runtime_cycles(conn, markets: list[str]) -> int:
    """Quote cycles committed so far (the runtime counts them in amm:runtime:{m} `cycles`)."""
    pipe = conn.pipeline(transaction=False)
    for m in markets:
        pipe.hget(f"amm:runtime:{m}", "cycles")
    return sum(int(v or 0) for v in pipe.execute())


CYCLE_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO amm\.runtime\.cycle: cycle \S+ \((\w+)\): "
                        r"(\w+)(?:, \d+ replacements)? in ([\d.]+) ms(?:, fill age (-?\d+) ms)?"
                        r"(?:, sent after (\d+) ms)?(?:, replaced after (\d+) ms)?")


def trade_stream_lags(conn, window: tuple[float, float]) -> list[float]:
    """Per trade of the window in the platform's `trade_events` stream: its executed_at -> the
    entry's id time (the XADD, ms): the rest of the taker's transaction, its commit and the
    relay, the platform's share of tick-to-quote with push on. [] when no relay published."""
    import redis

    try:
        entries = conn.xrange("trade_events", min=str(int(window[0] * 1000)), max=str(int(window[1] * 1000)))
    except redis.ResponseError:
        return []
    return [float(int(entry_id.split("-")[0]) - iso_ms(json.loads(fields["data"])["executed_at"]))
            for entry_id, fields in entries]


# The platform's access log (gunicorn's), one line per request: its date (%(t)s, to the second),
# method, path and the request's time in µs (%(D)s: from the request read to the answer written).
ACCESS_LOG = OUT / "platform_access.log"
ACCESS_FORMAT = "%(t)s %(m)s %(U)s %(D)s"


def platform_replace_ms(access_log: Path, window: tuple[float, float]) -> list[float]:
    """The platform's own time (gunicorn's, in ms) for each AMM replace of the window: what of
    the cycle's replace call is the platform's, the rest being the AMM's HTTP client and the
    loopback."""
    out = []
    if not access_log.exists():
        return out
    for line in access_log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5 or parts[3] != "/api/v1/amm/orders/replace":
            continue
        at = dt.datetime.strptime(parts[0] + " " + parts[1], "[%d/%b/%Y:%H:%M:%S %z]").timestamp()
        if window[0] - 1 <= at <= window[1]:
            out.append(int(parts[4]) / 1000)
    return out


def cycle_durations(log_text: str, window: tuple[float, float]) -> dict[str, list[float]]:
    """Wall time of the cycles run_amm logged (INFO: those that sent something) in the
    window, by reason (fill, tick, ...); for fill cycles also `fill_age` (the fill's age when
    its cycle began: the feed's poll and the queue), `fill_sent` (cycle start -> its replace
    sent) and `fill_replaced` (cycle start -> the
    platform's acknowledgement of the replace)."""
    out: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        match = CYCLE_LINE.match(line)
        if not match:
            continue
        at = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if window[0] <= at <= window[1] and match.group(3) == "quoted":
            out.setdefault(match.group(2), []).append(float(match.group(4)))
            if match.group(2) == "fill" and match.group(5) is not None and match.group(7) is not None:
                out.setdefault("fill_age", []).append(float(match.group(5)))
                out.setdefault("fill_replaced", []).append(float(match.group(7)))
                if match.group(6) is not None:
                    out.setdefault("fill_sent", []).append(float(match.group(6)))
    return out


# --- one N ---------------------------------------------------------------------------------------------
def make_markets(count: int, budget: int) -> list[str]:
    from amm.services import config_update, instance_enable
    from exchange.services import market_create

    made = []
    for _ in range(count):
        market_id = f"BR-{uuid.uuid4().hex[:10]}"
        market_create(market_id=market_id, title="runtime bench", maker_fee_bps=0, taker_fee_bps=20)
        instance_enable(market_id=market_id, budget_cents=budget, actor="bench")
        config_update(market_id=market_id, actor="bench", requote_interval_ms=INTERVAL_MS, order_levels=2,
                      order_size=ORDER_SIZE, exploration_size_factor=1.0, dead_man_timeout_ms=15_000)
        made.append(market_id)
    return made


def quoting_count(markets: list[str]) -> int:
    from django.db.models import Count

    from exchange.models import Order

    rows = (Order.objects.filter(user_id=AMM_USER_ID, market_id__in=markets, status__in=["OPEN", "PARTIALLY_FILLED"])
            .values("market_id").annotate(n=Count("id")))
    return sum(1 for r in rows if r["n"] >= 2)


def new_order_latencies(fills: list[tuple[str, int, int | None]]) -> list[float]:
    """Fill -> first AMM order of that market created by the platform after it (ms)."""
    from exchange.models import Order

    by_market: dict[str, list[int]] = {}
    markets = {m for m, _, _ in fills}
    since = dt.datetime.fromtimestamp(min((f for _, f, _ in fills), default=0) / 1000 - 1, tz=dt.timezone.utc)
    for market_id, created in Order.objects.filter(user_id=AMM_USER_ID, market_id__in=markets,
                                                   created_at__gte=since).values_list("market_id", "created_at"):
        by_market.setdefault(market_id, []).append(int(created.timestamp() * 1000))
    out = []
    for market_id, fill_ms, _ in fills:
        created = sorted(by_market.get(market_id, []))
        i = bisect_right(created, fill_ms)
        if i < len(created) and created[i] - fill_ms < 5000:
            out.append(float(created[i] - fill_ms))
    return out


def run_n(n: int, markets: list[str], args, platform, amm_key: str, taker_key: str, redis_url: str, conn,
          push: bool = False, ws_url: str = "", lane: bool = True, ticks: bool = True) -> dict:
    from tests.amm.runtime.harness import AmmProcess

    mode = ("on" if push else "off") + ("" if lane else "/q") + ("" if ticks else "/rq")
    # Each N starts from the platform's truth (the AMM's startup sync); the platform's event
    # streams (the relay's) are kept: only the AMM's keys go.
    keys = [k for pattern in ("amm:*", "rq:*", "bench:*") for k in conn.scan_iter(pattern, count=1000)]
    for i in range(0, len(keys), 500):
        conn.delete(*keys[i:i + 500])
    for stream in ("trade_events", "market_events", "book_events"):
        try:
            conn.xgroup_destroy(stream, "amm")  # the run before's consumers and what they left pending
        except Exception:  # noqa: BLE001 - no such stream yet
            pass
    log(f"N={n} push {mode}: starting run_amm with {args.workers} workers for {n} markets")
    amm = AmmProcess(markets=markets, workers=args.workers, base_url=platform.url, api_key=amm_key,
                     redis_url=redis_url, env={"LOG_LEVEL": "INFO", "AMM_PLATFORM_TIMEOUT_MS": "5000",
                                               "AMM_PUSH": "true" if push else "false",
                                               "AMM_FAST_LANE_THREADS": "2" if lane else "0",
                                               "AMM_TICK_LANE": "true" if ticks else "false",
                                               **({"AMM_PLATFORM_WS_URL": ws_url} if ws_url else {})})
    t0 = time.monotonic()
    amm.start()
    try:
        deadline = t0 + (args.start_timeout if args.start_timeout else 60 + n * 0.3)
        last_print = 0.0
        while True:
            if not amm.alive():
                raise SystemExit(f"run_amm exited with {amm.proc.returncode}:\n{amm.tail(40)}")
            live = quoting_count(markets)
            if live == n:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"N={n}: only {live}/{n} markets quoting after {deadline - t0:.0f}s:\n{amm.tail(40)}")
            if time.monotonic() - last_print > 5:
                log(f"N={n}: {live}/{n} markets quoting")
                last_print = time.monotonic()
            time.sleep(0.5)
        log(f"N={n}: all {n} markets quoting after {time.monotonic() - t0:.1f} s; warm-up {args.warmup:g} s")
        time.sleep(args.warmup)

        sampler = Sampler(conn, markets)
        queue: mp.Queue = mp.Queue()
        start_at = time.time() + 1.0
        proc = mp.Process(target=taker, args=(f"{platform.url}/api/v1", taker_key, markets, args.taker_rate,
                                              args.seconds, redis_url, start_at, queue, args.move_rate))
        proc.start()
        while time.time() < start_at:
            time.sleep(0.01)
        sampler.start()
        cycles0 = runtime_cycles(conn, markets)
        pg0 = backends_cpu(BENCH_DB)
        cpu0 = {"amm": tree_cpu(amm.pid), "platform": tree_cpu(platform.pid), "machine": machine_cpu(),
                "bench": own_cpu(), "redis": redis_cpu(conn), "postgres": 0.0}
        window = (time.time(), 0.0)
        w0 = time.monotonic()
        for tick in range(1, int(args.seconds) + 1):
            time.sleep(max(0.0, w0 + tick - time.monotonic()))
            if tick % 5 == 0 or tick == int(args.seconds):
                ages = sampler.ages[-max(1, n * 20):]
                log(f"N={n}: {tick:3d}/{int(args.seconds)} s  cycles {runtime_cycles(conn, markets) - cycles0:6d}  "
                    f"fills {int(conn.get('bench:fills') or 0):4d}  requote age p99 {pct(ages, 0.99):7.0f} ms")
        elapsed = time.monotonic() - w0
        pg1 = backends_cpu(BENCH_DB)
        cpu1 = {"amm": tree_cpu(amm.pid), "platform": tree_cpu(platform.pid), "machine": machine_cpu(),
                "bench": own_cpu(), "redis": redis_cpu(conn),
                "postgres": sum(t - pg0.get(pid, 0.0) for pid, t in pg1.items())}
        cycles = runtime_cycles(conn, markets) - cycles0
        window = (window[0], time.time())
        sampler.stop_event.set()
        sampler.join()
        result = queue.get(timeout=30)
        proc.join(timeout=10)
    finally:
        code = amm.stop(timeout=30)
        amm_log = amm.output()
        amm.cleanup()
    cpu = {k: cpu1[k] - cpu0[k] for k in cpu0}
    cpu["taker"] = result["cpu"]
    cpu["rest"] = max(0.0, cpu["machine"] - sum(cpu[k] for k in ("amm", "platform", "taker", "bench", "redis",
                                                                   "postgres")))
    fills = result["fills"]
    acked = [float(ack - fill) for _, fill, ack in fills if ack is not None]
    ages = sampler.ages
    durations = cycle_durations(amm_log, window)
    holds = bool(ages) and pct(ages, 0.99) <= 1.5 * INTERVAL_MS and cycles / elapsed >= 0.9 * n * 1000 / INTERVAL_MS
    OUT.mkdir(parents=True, exist_ok=True)
    log_name = f"run_amm_N{n}_push_{mode.replace('/', '_')}.log"
    (OUT / log_name).write_text(amm_log)
    log(f"N={n} push {mode}: run_amm stopped (exit {code}); its log: bench/out/{log_name}")
    moves = result["moves"]
    return {
        "n": n, "push": mode, "moves": len(moves), "moved": [float(a - c) for _, c, a in moves if a is not None],
        "moves_missed": sum(1 for _, _, a in moves if a is None), "elapsed": elapsed, "fills": len(fills), "acked": acked, "missed": len(fills) - len(acked),
        "to_order": new_order_latencies(fills), "sent": result["sent"], "errors": result["errors"],
        "cycles": cycles, "cycles_per_s": cycles / elapsed, "ages": ages, "requotes_seen": sampler.cycles,
        "fill_cycle_ms": durations.get("fill", []), "tick_cycle_ms": durations.get("tick", []),
        "fill_age_ms": durations.get("fill_age", []), "fill_replaced_ms": durations.get("fill_replaced", []),
        "fill_sent_ms": durations.get("fill_sent", []),
        "book_replaces": len(durations.get("book", [])),
        "to_stream": trade_stream_lags(conn, window) if push else [],
        "replace_in_platform": platform_replace_ms(ACCESS_LOG, window),
        "age_p99": pct(ages, 0.99), "age_max": max(ages) if ages else float("nan"),
        "cpu": cpu, "amm_cpu_per_cycle_ms": 1000 * cpu["amm"] / cycles if cycles else float("nan"),
        "holds": holds, "exit": code,
    }


# --- report ----------------------------------------------------------------------------------------------
def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        if r["acked"]:
            xs = sorted(r["acked"])
            ax1.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=f"N={r['n']} push {r['push']} (n={len(xs)})")
        if r["ages"]:
            xs = sorted(r["ages"])[:: max(1, len(r["ages"]) // 2000)]
            ax2.plot(xs, [(i + 1) / len(xs) for i in range(len(xs))], label=f"N={r['n']} push {r['push']}")
    for x, style in ((TARGET_P50_MS, ":"), (TARGET_P99_MS, "--")):
        ax1.axvline(x, color="grey", linestyle=style)
    ax1.set_xscale("log")
    ax1.set_xlabel("tick-to-quote: fill executed_at -> acknowledged requote (ms)")
    ax1.set_ylabel("fraction of fills")
    ax1.set_title("tick-to-quote latency (targets: p50 50 ms, p99 250 ms)")
    ax1.legend()
    ax2.axvline(1.5 * INTERVAL_MS, color="grey", linestyle="--")
    ax2.set_xlabel("requote age at a 50 ms sample (ms)")
    ax2.set_title(f"requote age (interval {INTERVAL_MS} ms; hold: p99 ≤ {1.5 * INTERVAL_MS:.0f} ms)")
    ax2.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def marginal_cpu(results: list[dict], key: str) -> tuple[float, float] | None:
    """Least-squares fit of CPU % = fixed + per_cycle × cycles/s over the N tried: (fixed % of
    a core, ms of CPU per cycle); None with fewer than two points."""
    points = [(r["cycles_per_s"], 100 * r["cpu"][key] / r["elapsed"]) for r in results]
    if len(points) < 2:
        return None
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var
    return mean_y - slope * mean_x, slope * 10  # % of a core per (cycle/s) -> ms per cycle


def report(results: list[dict], args) -> None:
    print()
    print(f"{'N':>5} {'push':>5} {'fills':>6} {'t2q p50':>8} {'t2q p99':>8} {'miss':>5} {'move p50':>8} {'move p99':>8} "
          f"{'order p50':>9} {'order p99':>9} "
          f"{'fill cycle':>10} {'pre-cycle':>9} {'to send':>7} {'to replace':>10} {'book repl':>9} {'cycles/s':>9} {'per mkt':>8} {'age p99':>8} {'AMM ms/cyc':>10} {'AMM %':>6} "
          f"{'plat %':>7} {'pg %':>5} {'redis %':>7} {'other %':>7} {'holds':>6}")
    for r in results:
        e, cpu = r["elapsed"], r["cpu"]
        print(f"{r['n']:5d} {r['push']:>5} {r['fills']:6d} {pct(r['acked'], .5):8.1f} {pct(r['acked'], .99):8.1f} "
              f"{r['missed']:5d} {pct(r['moved'], .5):8.1f} {pct(r['moved'], .99):8.1f} "
              f"{pct(r['to_order'], .5):9.1f} {pct(r['to_order'], .99):9.1f} {pct(r['fill_cycle_ms'], .5):10.1f} "
              f"{pct(r['fill_age_ms'], .5):9.1f} {pct(r['fill_sent_ms'], .5):7.1f} {pct(r['fill_replaced_ms'], .5):10.1f} {r['book_replaces']:9d} "
              f"{r['cycles_per_s']:9.1f} {r['cycles_per_s'] / r['n']:8.2f} {r['age_p99']:8.0f} "
              f"{r['amm_cpu_per_cycle_ms']:10.2f} {100 * cpu['amm'] / e:6.0f} {100 * cpu['platform'] / e:7.0f} "
              f"{100 * cpu['postgres'] / e:5.0f} {100 * cpu['redis'] / e:7.0f} {100 * cpu['rest'] / e:7.0f} "
              f"{'yes' if r['holds'] else 'NO':>6}")
    print("t2q: fill executed_at -> the AMM's acknowledged requote (last_requote_ms); move: book move (an outside "
          "bid bettering the AMM's, its created_at) -> the market's next acknowledged requote; order: -> the first new AMM "
          "order written by the platform; fill cycle: p50 wall time of a fill-triggered cycle that sent a "
          "replace (run_amm's log), pre-cycle: p50 age of its fill when it began (the feed's poll and the "
          "queue), to send: p50 from its start to its replace sent (lease, reads, decision), to replace: p50 from its start to the platform's acknowledgement of the replace; book repl: "
          "book-move cycles that replaced quotes in the window (the mover's moves and the fills' book changes ask "
          "for them; before the book feed waited for the AMM's own order calls, its own replaces did too); age: now - last_requote_ms at 50 ms samples; latencies in ms; CPU in % of "
          "one core over the window (200 % is this whole 2-core machine): AMM = run_amm and its "
          "workers, plat = gunicorn, pg = the PostgreSQL backends of the bench database, redis = the whole "
          "redis-server, other = the rest of the machine (other sessions' work included)")
    for n in sorted({r["n"] for r in results}):
        by = {r["push"]: r for r in results if r["n"] == n}
        if "on" in by and "off" in by and by["on"]["acked"] and by["off"]["acked"]:
            on, off = by["on"], by["off"]
            print(f"N={n}, push on vs off: tick-to-quote p50 {pct(on['acked'], .5):.1f} vs {pct(off['acked'], .5):.1f} ms "
                  f"(× {pct(on['acked'], .5) / pct(off['acked'], .5):.2f}), p99 {pct(on['acked'], .99):.1f} vs "
                  f"{pct(off['acked'], .99):.1f} ms (× {pct(on['acked'], .99) / pct(off['acked'], .99):.2f}); "
                  f"book-move-to-requote p50 {pct(on['moved'], .5):.1f} vs {pct(off['moved'], .5):.1f} ms, p99 "
                  f"{pct(on['moved'], .99):.1f} vs {pct(off['moved'], .99):.1f} ms")
        if "on" in by and by["on"]["to_stream"]:
            lags = by["on"]["to_stream"]
            print(f"N={n}, push on: fill executed_at -> its trade event in the stream (the taker's transaction, "
                  f"its commit, the relay) p50 {pct(lags, .5):.1f} / p99 {pct(lags, .99):.1f} ms over {len(lags)} "
                  f"trades: the platform's share before the AMM hears of a fill")
        for mode in ("on", "off"):
            spent = by.get(mode, {}).get("replace_in_platform")
            if spent:
                print(f"N={n}, push {mode}: the platform's own time per AMM replace (gunicorn's, from the request "
                      f"read to the answer written) p50 {pct(spent, .5):.1f} / p99 {pct(spent, .99):.1f} ms over "
                      f"{len(spent)} replaces")
        if "on" in by and by["on"]["acked"]:
            p50, p99 = pct(by["on"]["acked"], .5), pct(by["on"]["acked"], .99)
            print(f"N={n}, push on: tick-to-quote p50 {p50:.1f} ms = {p50 / PUSH_P50_MS:.2f} × issue 15's {PUSH_P50_MS:g} ms "
                  f"target ({'met' if p50 <= PUSH_P50_MS else 'MISSED'}), p99 {p99:.1f} ms = {p99 / PUSH_P99_MS:.2f} × "
                  f"its {PUSH_P99_MS:g} ms target ({'met' if p99 <= PUSH_P99_MS else 'MISSED'})")
        for mode in ("on", "off"):
            lane, queue = by.get(mode), by.get(f"{mode}/q")
            if lane and queue and lane["acked"] and queue["acked"]:
                print(f"N={n}, push {mode}, fast lane vs the queue: tick-to-quote p50 {pct(lane['acked'], .5):.1f} vs "
                      f"{pct(queue['acked'], .5):.1f} ms, p99 {pct(lane['acked'], .99):.1f} vs "
                      f"{pct(queue['acked'], .99):.1f} ms; book-move-to-requote p50 {pct(lane['moved'], .5):.1f} vs "
                      f"{pct(queue['moved'], .5):.1f} ms")
        for mode in ("on", "off"):
            lanes, jobs = by.get(mode), by.get(f"{mode}/rq")
            if lanes and jobs:
                print(f"N={n}, push {mode}, tick lanes vs RQ batch jobs: cycles/s {lanes['cycles_per_s']:.1f} vs "
                      f"{jobs['cycles_per_s']:.1f} (× {lanes['cycles_per_s'] / max(jobs['cycles_per_s'], 1e-9):.2f}), "
                      f"AMM CPU per cycle {lanes['amm_cpu_per_cycle_ms']:.2f} vs {jobs['amm_cpu_per_cycle_ms']:.2f} ms "
                      f"(× {lanes['amm_cpu_per_cycle_ms'] / max(jobs['amm_cpu_per_cycle_ms'], 1e-9):.2f}), requote age "
                      f"p99 {lanes['age_p99']:.0f} vs {jobs['age_p99']:.0f} ms; holds: "
                      f"{'yes' if lanes['holds'] else 'no'} vs {'yes' if jobs['holds'] else 'no'}")
    results = [r for r in results if r["push"] == results[0]["push"]]  # the rest compares like with like
    holding = [r["n"] for r in results if r["holds"]]
    largest = max(holding) if holding else None
    tried = max(r["n"] for r in results)
    if largest is None:
        print("largest N holding a 1 s requote interval: none of those tried")
    else:
        print(f"largest N holding a 1 s requote interval: {largest}"
              + (" (the largest tried)" if largest == tried else ""))
    at = next((r for r in results if r["n"] == TARGET_N), None)
    if at and at["acked"]:
        p50, p99 = pct(at["acked"], .5), pct(at["acked"], .99)
        print(f"at N={TARGET_N}: tick-to-quote p50 {p50:.1f} ms = {p50 / TARGET_P50_MS:.2f} × the 50 ms target "
              f"({'met' if p50 <= TARGET_P50_MS else 'MISSED'}), p99 {p99:.1f} ms = {p99 / TARGET_P99_MS:.2f} × "
              f"the 250 ms target ({'met' if p99 <= TARGET_P99_MS else 'MISSED'})")
    for key, name in (("amm", "AMM (run_amm + workers)"), ("platform", "platform (gunicorn)"),
                      ("postgres", "PostgreSQL (bench database)"), ("redis", "redis-server")):
        fit = marginal_cpu(results, key)
        if fit:
            print(f"{name:28s} CPU ≈ {fit[0]:5.0f} % of a core fixed + {fit[1]:5.2f} ms per cycle (fit over N)")
    big = max(results, key=lambda r: r["n"])
    keys = ("amm", "platform", "postgres", "redis", "taker", "bench", "rest")
    shares = {k: big["cpu"][k] / big["elapsed"] for k in keys}
    names = {"amm": "the AMM (run_amm + workers)", "platform": "the platform (gunicorn)",
             "postgres": "PostgreSQL", "redis": "Redis", "taker": "the taker", "bench": "the bench's sampler",
             "rest": "other processes"}
    busiest = max(("amm", "platform", "postgres", "redis"), key=lambda k: shares[k])
    print(f"at N={big['n']}: machine busy {100 * sum(shares.values()):.0f} % of {100 * (os.cpu_count() or 1)} % — "
          + ", ".join(f"{names[k]} {100 * shares[k]:.0f} %" for k in keys)
          + f"; largest consumer: {names[busiest]}")


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, nargs="+", default=[10, 50, 100, 200], help="values of N")
    parser.add_argument("--workers", type=int, default=3,
                        help="run_amm RQ workers (one mostly runs the fill feed; 3 measured best here)")
    parser.add_argument("--platform-workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--platform-threads", type=int, default=4,
                        help="threads per gunicorn worker (>1: gthread, the production default; 1: sync)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measurement window per N")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after all markets quote")
    parser.add_argument("--taker-rate", type=float, default=10.0, help="taker orders per second")
    parser.add_argument("--start-timeout", type=float, default=0.0,
                        help="seconds for all markets to quote (0: 60 + 0.3 N); a loaded machine needs more")
    parser.add_argument("--move-rate", type=float, default=4.0, help="book moves (outside bids bettering the AMM's) per second")
    parser.add_argument("--push", choices=("both", "on", "off"), default="both",
                        help="run_amm with AMM_PUSH off, on, or both in turn for each N (issue 15)")
    parser.add_argument("--lane", choices=("both", "on", "off"), default="on",
                        help="fills and book moves requoted on the fast lane (AMM_FAST_LANE_THREADS=2), through "
                             "the queue (0; shown as push mode '/q'), or both in turn")
    parser.add_argument("--ticks", choices=("lanes", "rq", "both"), default="lanes",
                        help="periodic batches on the workers' tick lanes (AMM_TICK_LANE, the default), as RQ jobs "
                             "(shown as push mode '/rq'), or both in turn for each N")
    args = parser.parse_args()

    os.environ["LOG_LEVEL"] = "WARNING"  # this process's own logging; the figures are printed
    database_url = django_on_bench_db(BENCH_DB)
    import redis
    from django.conf import settings

    from ammproject.redis import url_with_db
    from exchange.models import User
    from exchange.services import account_deposit, api_key_issue, user_get_or_create
    from tests.amm.runtime.harness import AMM_USER_ID, PlatformServer
    from tests.push_fixtures import RelayProcess
    from tests.ws_fixtures import AsgiServer

    redis_db = int(os.environ.get("AMM_BENCH_RUNTIME_REDIS_DB", "10"))
    redis_url = url_with_db(settings.REDIS_URL, redis_db)
    settings.REDIS_URL = redis_url
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = redis_url
    conn = redis.Redis.from_url(redis_url, decode_responses=True)
    conn.flushdb()

    top = max(args.markets)
    account_deposit(user_id=AMM_USER_ID, amount_cents=top * 400_000)
    amm_key = api_key_issue(user=User.objects.get(pk=AMM_USER_ID))
    taker_user, _ = user_get_or_create(username=f"bench_taker_{uuid.uuid4().hex[:6]}")
    account_deposit(user_id=str(taker_user.id), amount_cents=10**11)
    taker_key = api_key_issue(user=taker_user)
    t0 = time.monotonic()
    markets = make_markets(top, budget=200_000)
    log(f"{top} markets created with the AMM enabled in {time.monotonic() - t0:.1f} s")

    OUT.mkdir(parents=True, exist_ok=True)
    ACCESS_LOG.unlink(missing_ok=True)
    platform = PlatformServer(database_url=database_url, redis_url=redis_url, workers=args.platform_workers,
                              threads=args.platform_threads, env={"GUNICORN_CMD_ARGS": (
                                  f"--access-logfile {ACCESS_LOG} --access-logformat '{ACCESS_FORMAT}'")})
    platform.start()
    load = os.getloadavg()
    print(f"platform: gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi, {args.platform_workers} "
          f"{'sync workers' if args.platform_threads == 1 else f'gthread workers x {args.platform_threads} threads'} "
          f"on {platform.url} (replace rate limit lifted); database {BENCH_DB}, Redis db {redis_db}; "
          f"{os.cpu_count()} CPUs shared by everything; load average before {load[0]:.2f}")
    print(f"AMM: manage.py run_amm --workers {args.workers}, requote_interval_ms {INTERVAL_MS}, 2 levels × "
          f"{ORDER_SIZE} shares a side; taker: {args.taker_rate:g} IOC orders/s, one level each, random market; "
          f"{args.seconds:g} s window per N", flush=True)
    pushes = {"both": (False, True), "on": (True,), "off": (False,)}[args.push]
    lanes = {"both": (True, False), "on": (True,), "off": (False,)}[args.lane]
    ticks = {"both": (True, False), "lanes": (True,), "rq": (False,)}[args.ticks]
    modes = [(push, lane, tick) for push in pushes for lane in lanes for tick in ticks]
    relay = asgi = None
    if True in pushes:  # the platform's push side: the outbox relay and the WebSocket server
        relay = RelayProcess({**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                              "PYTHONUNBUFFERED": "1", "DEBUG": "false"}, []).start()
        asgi = AsgiServer(database_url=database_url, redis_url=redis_url).start()
        print(f"push: manage.py exchange_relay; WebSocket books from gunicorn -c ammproject/gunicorn_asgi.conf.py "
              f"({asgi.workers} uvicorn worker) on {asgi.ws_url}", flush=True)
    results = []
    try:
        for n in sorted(args.markets):
            for push, lane, tick in modes:
                results.append(run_n(n, markets[:n], args, platform, amm_key, taker_key, redis_url, conn, push=push,
                                     ws_url=asgi.ws_url if asgi is not None else "", lane=lane, ticks=tick))
    finally:
        platform.stop()
        platform.cleanup()
        if asgi is not None:
            asgi.stop()
            asgi.cleanup()
        if relay is not None:
            relay.stop()
    report(results, args)
    path = OUT / "runtime_latency.png"
    plot(results, path)
    print(f"plot: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
