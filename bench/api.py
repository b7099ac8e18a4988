"""Platform REST API over loopback, served as in production (issues 3 and 15).

Starts `gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi` (N gthread workers of 4 threads by
default) as a subprocess on a dedicated database (amm_bench_api, or AMM_BENCH_API_DB; dropped and
migrated afresh) and a dedicated Redis logical db, then drives it from several client processes
(one HTTP client each, one user and one market each, real HTTP) and prints requests per second and
p50/p99 latency (and gunicorn's own CPU per request: the clients and PostgreSQL share this machine,
so req/s alone understates the server) for

  - GET  /api/v1/account/balance
  - order placement (issue 15: target 1,000 orders/s), one order a call or k a call:
      POST /api/v1/orders                 one resting limit order a call
      POST /api/v1/amm/orders/replace     k new orders a call (every `old_order_id` null), k = 1 4 8 20
    Bids only, so nothing crosses. Each scenario runs in rounds: every client places back to back
    for --round-seconds, all clients stop together (a barrier), then each cancels all its orders
    (POST /orders/cancel-all) OFF the clock, so that the book stays small and every round starts
    from an empty one. Only placements count: orders/s and calls/s over the placing phases, and
    the CPU sampled at the barriers, so the cancels are in neither. The CPU per order is printed
    by part: gunicorn, the client processes, Redis and the bench database's PostgreSQL backends
    (on two cores, 1,000 orders/s leaves 2 ms of CPU an order for all of them together).
    Each placing scenario runs twice (--client): with httpx clients (what a Python caller uses:
    about 1 ms of CPU a call, on the server's cores) and with raw-socket keep-alive clients
    (RawClient: about 0.15 ms), whose figure measures the server more than the clients.
  - POST /api/v1/amm/orders/replace    (8 cancels + 8 new orders in one atomic call)

The replace calls run under the per-user rate limit `ratelimit:{user}:replace` (--replace-limit
calls per user per 60 s, printed; the production default unless given); a 429 counts as an error.

    .venv/bin/python bench/api.py [--workers CPUs] [--threads 4] [--clients 4] [--seconds 8]
                                  [--round-seconds 2] [--batch 1 4 8 20] [--only orders batch ...]
                                  [--client httpx raw] [--asgi]
    .venv/bin/python bench/api.py --profile [--requests 2000] [--profile-dump FILE]

Figures (and what they mean for issue 15's 1,000 orders/s one a call): README "Benchmarks".

`--asgi` serves the same calls with the push feeds' ASGI server (uvicorn workers) instead:
the comparison behind README "Serving". `--profile` serves POST /api/v1/orders with one sync
gunicorn worker whose Django application runs under cProfile, one client, and prints Python
function calls per request (cProfile's count: independent of the machine's load) and the
functions with the most own time. `--callgrind` counts the instructions of one gunicorn worker
(--threads as served) per POST /api/v1/orders under valgrind (user space; minutes to run).
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

# Dropped and made afresh each run: a concurrent run names another (AMM_BENCH_API_DB).
BENCH_DB = os.environ.get("AMM_BENCH_API_DB", "amm_bench_api")
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
                 asgi: bool = False, app: str = "ammproject.wsgi", extra_env: dict | None = None,
                 prefix: tuple[str, ...] = (), wait_s: float = 30) -> subprocess.Popen:
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
        "DEBUG": "false",
        **(extra_env or {}),
    }
    env.pop("GUNICORN_ACCESS_LOG", None)
    config = ["-c", str(ROOT / "ammproject" / "gunicorn_asgi.conf.py")] if asgi else \
        ["-c", str(ROOT / "ammproject" / "gunicorn.conf.py"), app]
    command = [*prefix, sys.executable, "-m", "gunicorn", *config]
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    import httpx

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            # an API call without a key: 401 once Django answers (cheaper than the schema)
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/account/balance", timeout=2).status_code == 401:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not come up within {wait_s:g} s")


def server_cpu(pid: int) -> float:
    """CPU seconds of gunicorn and its workers so far: what the server spends per request,
    apart from the client processes and PostgreSQL sharing the machine with it."""
    import psutil

    total = 0.0
    root = psutil.Process(pid)
    for proc in (root, *root.children(recursive=True)):
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_sample(server_pid: int, clients: list[int], redis_url: str) -> dict:
    """CPU seconds so far of what one order costs this machine, by part: gunicorn, the client
    processes, the Redis server and each PostgreSQL backend of the bench's database (other
    work on the machine is in none of them). `cpu_spent` subtracts two samples."""
    import psutil
    import redis
    from django.db import connection

    def cpu(pid: int) -> float:
        try:
            t = psutil.Process(pid).cpu_times()
            return t.user + t.system
        except psutil.NoSuchProcess:
            return 0.0

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")  # not this idle process's own
        backends = {row[0]: cpu(row[0]) for row in cursor.fetchall()}
    info = redis.Redis.from_url(redis_url).info("cpu")
    return {"gunicorn": server_cpu(server_pid), "clients": sum(cpu(pid) for pid in clients),
            "redis": info["used_cpu_user"] + info["used_cpu_sys"], "postgres": backends}


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds by part between two samples (a backend new since `before` counts from zero)."""
    spent = {part: after[part] - before[part] for part in ("gunicorn", "clients", "redis")}
    spent["postgres"] = sum(t - before["postgres"].get(pid, 0.0) for pid, t in after["postgres"].items())
    return spent


def order_body(seq: int) -> dict:
    """A resting bid (YES BUY 10..39 cents, 1 share): the bench places bids only, so nothing crosses."""
    return {"client_order_id": f"{uuid.uuid4().hex[:12]}-{seq}", "side": "YES", "direction": "BUY",
            "price_cents": 10 + seq % 30, "quantity": 1}


def _http(base: str, key: str):
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would swamp the figures
    return httpx.Client(base_url=base, headers={"Authorization": f"Token {key}"}, timeout=30)


def client(scenario: str, base: str, key: str, market: str, seconds: float, start_at: float, out) -> None:
    """One client process: back-to-back requests for `seconds`, latencies in ms."""
    http = _http(base, key)
    seq = 0
    latencies: list[float] = []
    errors = 0
    live: list[str] = []

    def order(price: int) -> dict:
        nonlocal seq
        seq += 1
        return {**order_body(seq), "price_cents": price}

    if scenario == "replace":  # 8 resting bids to replace (bids only: nothing crosses)
        body = {"market_id": market, "replacements": [{"old_order_id": None, "new": order(10 + i)} for i in range(8)]}
        live = [o["id"] for o in http.post("/amm/orders/replace", json=body).json()["placed"]]
    while time.time() < start_at:
        time.sleep(0.005)
    end = start_at + seconds
    while time.time() < end:
        if scenario == "balance":
            request = ("GET", "/account/balance", None)
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


class RawClient:
    """The cheap load generator: HTTP/1.1 keep-alive on one socket, each request written whole
    and each answer read by its Content-Length (the API always sends one), JSON in and out.
    An httpx client spends about a millisecond of CPU a call, on the same two cores as the
    server; this one a small fraction of that, so the figure measures the server more than
    the clients. Same calls, same bodies, same answers checked (the status)."""

    def __init__(self, base: str, key: str):
        from urllib.parse import urlsplit

        url = urlsplit(base)
        self.address, self.prefix = (url.hostname, url.port), url.path
        self.head = (f"Host: {url.netloc}\r\nAuthorization: Token {key}\r\n"
                     "Content-Type: application/json\r\nAccept: application/json\r\n").encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, path: str, json: dict) -> "RawResponse":
        import json as _json

        body = _json.dumps(json, separators=(",", ":")).encode()
        request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
            (self.prefix + path).encode(), self.head, len(body), body)
        if self.sock is None:
            self.sock = socket.create_connection(self.address)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if "content-length" not in headers:
            raise RuntimeError(f"answer without Content-Length: {headers}")
        length = int(headers["content-length"])
        while len(self.buffer) < length:
            self._read()
        content, self.buffer = self.buffer[:length], self.buffer[length:]
        if headers.get("connection", "").lower() == "close":
            self.sock.close()
            self.sock = None
        return RawResponse(status, content)

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        self.buffer += chunk


class RawResponse:
    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content

    def json(self):
        import json

        return json.loads(self.content)


CLIENTS = {"httpx": "one httpx client", "raw": "one raw-socket keep-alive client (bench/api.py RawClient)"}


def placing_client(k: int, single: bool, base: str, key: str, market: str, rounds: int, round_s: float,
                   barrier, out, kind: str = "httpx") -> None:
    """One client process placing orders in rounds (see the module docstring): `single` posts
    one order to POST /orders a call, else k new orders to the replace call. Latencies in ms.
    `kind`: its HTTP client (CLIENTS)."""
    http = _http(base, key) if kind == "httpx" else RawClient(base, key)
    seq = 0
    latencies: list[float] = []
    errors: dict[int, int] = {}
    for _ in range(rounds):
        barrier.wait()  # every client starts the round together (and the server's CPU is read)
        end = time.monotonic() + round_s
        while time.monotonic() < end:
            if single:
                seq += 1
                path, body = "/orders", {"market_id": market, **order_body(seq)}
            else:
                replacements = []
                for _ in range(k):
                    seq += 1
                    replacements.append({"old_order_id": None, "new": order_body(seq)})
                path, body = "/amm/orders/replace", {"market_id": market, "replacements": replacements}
            t0 = time.perf_counter()
            response = http.post(path, json=body)
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status_code >= 300:
                errors[response.status_code] = errors.get(response.status_code, 0) + 1
        barrier.wait()  # every client has stopped placing: the round's clock and CPU stop here
        response = http.post("/orders/cancel-all", json={"market_id": market})  # off the clock
        if response.status_code != 200:
            errors[-response.status_code] = errors.get(-response.status_code, 0) + 1
    barrier.wait()
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


def run_placing(k: int, single: bool, base: str, world: list[dict], seconds: float, round_s: float,
                server_pid: int, redis_url: str, kind: str) -> tuple[list[float], dict, float, dict[str, float]]:
    """Rounds of placing across every client: latencies, errors by status, seconds on the clock
    and the CPU seconds of each part (`cpu_spent`), both summed over the placing phases only."""
    rounds = max(1, round(seconds / round_s))
    queue: mp.Queue = mp.Queue()
    barrier = mp.Barrier(len(world) + 1)  # the clients and this process, which reads the clock and CPU
    procs = [mp.Process(target=placing_client,
                        args=(k, single, base, w["key"], w["market"], rounds, round_s, barrier, queue, kind))
             for w in world]
    for p in procs:
        p.start()
    pids = [p.pid for p in procs]
    on_clock = 0.0
    cpu = {"gunicorn": 0.0, "clients": 0.0, "redis": 0.0, "postgres": 0.0}
    for _ in range(rounds):
        barrier.wait()
        t0, cpu0 = time.monotonic(), cpu_sample(server_pid, pids, redis_url)
        barrier.wait()
        on_clock += time.monotonic() - t0
        for part, spent in cpu_spent(cpu0, cpu_sample(server_pid, pids, redis_url)).items():
            cpu[part] += spent
    barrier.wait()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    errors: dict[int, int] = {}
    for _, errs in results:
        for status, n in errs.items():
            errors[status] = errors.get(status, 0) + n
    return [x for lat, _ in results for x in lat], errors, on_clock, cpu


TARGET_ORDERS_PER_S = 1000  # issue 15


def print_placing(label: str, k: int, latencies: list[float], errors: dict, seconds: float,
                  cpu: dict[str, float]) -> None:
    calls = len(latencies)
    orders = calls * k  # a refused call places nothing, but a refusal is reported and should be zero
    per_order = cpu["gunicorn"] / max(1, orders)
    shown = ", ".join(f"{'cancel-all ' if s < 0 else ''}{abs(s)}: {n}" for s, n in sorted(errors.items())) or "none"
    parts = " + ".join(f"{part} {spent * 1000 / max(1, orders):.2f}" for part, spent in cpu.items())
    print(f"{label:58s} {orders / seconds:8.1f} orders/s ({orders / seconds / TARGET_ORDERS_PER_S:4.2f}x the "
          f"1,000/s target)  {calls / seconds:7.1f} calls/s   p50 {pct(latencies, 0.5):7.2f} ms   "
          f"p99 {pct(latencies, 0.99):7.2f} ms per call   n={calls} calls   errors: {shown}   "
          f"server CPU {per_order * 1000:5.2f} ms/order (-> {(os.cpu_count() or 1) / per_order:6.0f}/s "
          f"if gunicorn had every core); CPU ms/order: {parts} = {sum(cpu.values()) * 1000 / max(1, orders):.2f}",
          flush=True)


def profiled_wsgi():
    """`--profile`'s application (gunicorn calls this factory in its worker, loading Django):
    Django's, under cProfile for each POST /api/v1/orders (the gunicorn worker's own code around
    it is not counted). Stats go to AMM_BENCH_PROFILE_OUT at the worker's exit."""
    import atexit
    import cProfile

    from ammproject.wsgi import application

    profiler = cProfile.Profile()
    count = [0]

    def app(environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/api/v1/orders":
            return application(environ, start_response)
        count[0] += 1
        profiler.enable()
        try:
            return application(environ, start_response)
        finally:
            profiler.disable()

    atexit.register(_dump_profile, profiler, count)
    return app


def _dump_profile(profiler, count: list[int]) -> None:
    import marshal

    profiler.create_stats()
    with open(os.environ["AMM_BENCH_PROFILE_OUT"], "wb") as out:
        marshal.dump({"requests": count[0], "stats": profiler.stats}, out)


def profile(database_url: str, redis_url: str, world: list[dict], requests: int, dump: str | None = None) -> None:
    """One sync worker under cProfile, one client posting `requests` orders (a cancel-all every
    500, not profiled). The first requests (connections opened, statements prepared) are
    counted too: a small share of a long run."""
    import marshal
    import pstats
    import tempfile

    out = tempfile.mktemp(prefix="amm-bench-api-profile-")
    port = free_port()
    server = start_server(port, 1, 1, database_url, redis_url, app="api:profiled_wsgi()",
                          extra_env={"AMM_BENCH_PROFILE_OUT": out, "PYTHONPATH": str(ROOT / "bench")})
    base = f"http://127.0.0.1:{port}/api/v1"
    http = _http(base, world[0]["key"])
    latencies = []
    try:
        for seq in range(requests):
            t0 = time.perf_counter()
            response = http.post("/orders", json={"market_id": world[0]["market"], **order_body(seq)})
            latencies.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 201, response.text
            if seq % 500 == 499:
                http.post("/orders/cancel-all", json={"market_id": world[0]["market"]})
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    with open(out, "rb") as f:
        dumped = marshal.load(f)
    os.unlink(out)
    n = dumped["requests"]
    stats = pstats.Stats(_StatsSource(dumped["stats"]))
    if dump:  # for pstats or snakeviz
        stats.dump_stats(dump)
    print(f"POST /api/v1/orders under cProfile (one sync gunicorn worker, one client): {n} requests, "
          f"{stats.total_calls / n:,.0f} Python function calls per request "
          f"({stats.prim_calls / n:,.0f} primitive), p50 {pct(latencies, 0.5):.2f} ms under the profiler")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)


MARK_PATH = "/bench/mark"


def marked_wsgi():
    """`--callgrind`'s application: Django's, except that a request to MARK_PATH first calls
    os.sched_yield(), which nothing else in the worker calls: callgrind dumps (and zeroes) its
    counts there (`--dump-before=os_sched_yield`), so two marks bracket the measured calls."""
    from ammproject.wsgi import application

    def app(environ, start_response):
        if environ.get("PATH_INFO") == MARK_PATH:
            os.sched_yield()
        return application(environ, start_response)

    return app


def callgrind(database_url: str, redis_url: str, world: list[dict], requests: int, threads: int) -> None:
    """Instructions per POST /api/v1/orders in one gunicorn worker (gthread with `threads`, 1:
    sync) under valgrind's callgrind: a count that does not depend on the machine's load (user
    space only: the kernel's part of each call, e.g. the socket calls, is not in it). One raw
    keep-alive client; 100 orders warm up (connections, prepared statements), then the worker's
    counts between two marks (MARK_PATH, each answered 404) are those of `requests` orders."""
    import shutil
    import tempfile

    import psutil

    if not shutil.which("valgrind"):
        raise SystemExit("--callgrind needs valgrind (Debian: apt-get install valgrind)")
    out_dir = tempfile.mkdtemp(prefix="amm-bench-api-callgrind-")
    port = free_port()
    server = start_server(port, 1, threads, database_url, redis_url, app="api:marked_wsgi()", wait_s=900,
                          extra_env={"PYTHONPATH": str(ROOT / "bench")},
                          prefix=("valgrind", "--tool=callgrind", "--dump-before=os_sched_yield",
                                  f"--callgrind-out-file={out_dir}/callgrind.out.%p"))
    http = RawClient(f"http://127.0.0.1:{port}", world[0]["key"])
    market = world[0]["market"]
    try:
        (worker,) = psutil.Process(server.pid).children()
        for seq in range(100 + requests):
            if seq == 100:
                http.post(MARK_PATH, json={})
            response = http.post("/api/v1/orders", json={"market_id": market, **order_body(seq)})
            assert response.status_code == 201, response.content
        http.post(MARK_PATH, json={})
        path = os.path.join(out_dir, f"callgrind.out.{worker.pid}.2")  # .1: up to the first mark
        deadline = time.monotonic() + 120
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # written whole by then
        total = 0
        with open(path) as counts:
            for line in counts:
                if line.startswith(("summary:", "totals:")):
                    total = int(line.split()[1])
                    break
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=300)
        shutil.rmtree(out_dir, ignore_errors=True)
    kind = f"gthread worker × {threads} threads (keep-alive)" if threads > 1 else "sync worker (a connection a call)"
    print(f"POST /api/v1/orders under callgrind, one {kind}, one raw client: {requests} orders, "
          f"{total / requests / 1e6:.2f} M instructions per order in the worker (user space: gunicorn, Django, "
          f"the API, the engine and its drivers)", flush=True)


class _StatsSource:
    """What pstats.Stats reads from a profiler: its `stats` dict (here, loaded from the dump)."""

    def __init__(self, stats):
        self.stats = stats

    def create_stats(self):
        pass


def main() -> None:
    print(machine_speed(), flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads per worker (>1: gthread with keep-alive, the production default; 1: sync)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (one connection each)")
    parser.add_argument("--client", nargs="+", choices=list(CLIENTS), default=["httpx", "raw"],
                        help="placing scenarios: the clients' HTTP client, each in turn (httpx: what a Python caller "
                        "uses; raw: a cheap keep-alive socket, so that the figure measures the server)")
    parser.add_argument("--asgi", action="store_true",
                        help="serve with the push feeds' ASGI server instead (gunicorn_asgi.conf.py: uvicorn workers)")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each scenario (on the clock)")
    parser.add_argument("--round-seconds", type=float, default=2.0,
                        help="placing phase of one round (then every client cancels its orders, off the clock)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4, 8, 20], help="new orders per replace call")
    parser.add_argument("--only", nargs="+", choices=["balance", "orders", "batch", "replace"],
                        default=["balance", "orders", "batch", "replace"], help="scenarios to run")
    parser.add_argument("--replace-limit", type=int, default=None,
                        help="EXCHANGE_REPLACE_RATE_LIMIT: replace calls per user per 60 s (default: the setting's)")
    parser.add_argument("--profile", action="store_true",
                        help="profile POST /api/v1/orders under cProfile instead (one sync worker, one client)")
    parser.add_argument("--callgrind", action="store_true",
                        help="count instructions per POST /api/v1/orders in one gunicorn worker under valgrind instead "
                        "(--threads as served; slow: minutes)")
    parser.add_argument("--requests", type=int, default=2000, help="--profile, --callgrind: orders to post")
    parser.add_argument("--profile-dump", default=None, help="--profile: also write the stats to this file (pstats)")
    args = parser.parse_args()

    database_url = django_on_bench_db(BENCH_DB)
    from django.conf import settings

    from ammproject.redis import url_with_db

    redis_url = url_with_db(settings.REDIS_URL, BENCH_REDIS_DB)
    world = setup_world(1 if args.profile or args.callgrind else args.clients)
    if args.callgrind:
        callgrind(database_url, redis_url, world, args.requests, args.threads)
        return
    if args.profile:
        profile(database_url, redis_url, world, args.requests, args.profile_dump)
        return
    replace_limit = args.replace_limit if args.replace_limit is not None else settings.EXCHANGE_REPLACE_RATE_LIMIT
    port = free_port()
    server = start_server(port, args.workers, args.threads, database_url, redis_url, args.asgi,
                          extra_env={"EXCHANGE_REPLACE_RATE_LIMIT": str(replace_limit)})
    base = f"http://127.0.0.1:{port}/api/v1"
    kind = f"gthread workers × {args.threads} threads" if args.threads > 1 else "sync workers"
    command = "gunicorn -c ammproject/gunicorn.conf.py ammproject.wsgi"
    if args.asgi:
        kind, command = "uvicorn workers (ammproject.asgi)", "gunicorn -c ammproject/gunicorn_asgi.conf.py"
    print(f"served by: {command} — {args.workers} {kind} "
          f"on 127.0.0.1:{port}, DEBUG off, database {BENCH_DB}, Redis db {BENCH_REDIS_DB}, "
          f"dead man's switch sweeper on; {os.cpu_count()} CPUs shared by server, clients and PostgreSQL")
    print(f"clients: {args.clients} processes, one user and market each, back-to-back requests over loopback, "
          f"{args.seconds:g} s per scenario on the clock; placing with "
          + " then ".join(f"{CLIENTS[kind]} each ('{kind} clients')" for kind in args.client)
          + " (balance and replace scenarios: httpx)")
    print(f"rate limits per user per 60 s: replace {replace_limit:,} calls (ratelimit:{{user}}:replace), "
          f"write {settings.EXCHANGE_RATE_LIMIT_WRITE:,}, read {settings.EXCHANGE_RATE_LIMIT_READ:,}")
    print(f"placing scenarios: bids only (nothing crosses), rounds of {args.round_seconds:g} s; after each round "
          f"every client cancels all its orders off the clock; only placements count")
    try:
        for scenario in args.only:
            if scenario in ("balance", "replace"):
                label = {"balance": "GET  /api/v1/account/balance",
                         "replace": "POST /api/v1/amm/orders/replace (8 cancels + 8 orders)"}[scenario]
                cpu0 = server_cpu(server.pid)
                latencies, errors, seconds = run(scenario, base, world, args.seconds)
                per_request = (server_cpu(server.pid) - cpu0) / max(1, len(latencies))
                print(f"{label:58s} {len(latencies) / seconds:8.1f} req/s   p50 {pct(latencies, 0.5):7.2f} ms   "
                      f"p99 {pct(latencies, 0.99):7.2f} ms   n={len(latencies)} errors={errors}   "
                      f"server CPU {per_request * 1000:5.2f} ms/req (-> {(os.cpu_count() or 1) / per_request:6.0f}/s "
                      f"if gunicorn had every core)", flush=True)
                continue
            cases = [(1, True)] if scenario == "orders" else [(k, False) for k in args.batch]
            for k, single in cases:
                for kind in args.client:
                    label = ("POST /api/v1/orders (1 order a call)" if single
                             else f"POST /api/v1/amm/orders/replace ({k} new a call)") + f", {kind} clients"
                    latencies, errors, seconds, cpu = run_placing(k, single, base, world, args.seconds,
                                                                  args.round_seconds, server.pid, redis_url, kind)
                    print_placing(label, k, latencies, errors, seconds, cpu)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
