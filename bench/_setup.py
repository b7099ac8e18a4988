"""Benchmark plumbing: a dedicated database (never the one you work in), Django set up on it."""
from __future__ import annotations

import os
import secrets
import statistics
import sys
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
