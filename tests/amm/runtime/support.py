"""Fixtures of the runtime tests (issue 6): the platform over real HTTP (pytest-django's
live_server), the AMM enabled on a market with short intervals, and real RQ workers as
threads (AmmWorker: SimpleWorker) with the scheduler in another thread, on real Redis and
PostgreSQL. Platform state (users, money, markets, counterparty orders, status changes) is
set up with exchange services: tests are not the plugin."""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from amm import state
from amm.constants import AMM_USER_ID
from tests.amm.runtime.harness import wait_until  # noqa: F401 - one implementation, re-exported for the tests

FILL_CYCLES: dict[str, int] = {}  # market -> cycles run with reason "fill" (counted by the rt fixture)

RUNTIME_CONFIG = {
    "requote_interval_ms": 300,
    # In-process tests arm the switch once (`Runtime.start`) and most run no scheduler to
    # re-arm it: long enough for a slow machine. The switch's own tests use the harness.
    "dead_man_timeout_ms": 30_000,
    "order_levels": 2,
    "order_size": 10,
    "exploration_size_factor": 1.0,
}


class WorkerThreads:
    """N AmmWorkers (RQ SimpleWorker) as threads on the "amm" queue."""

    def __init__(self, count: int = 2) -> None:
        self.count = count
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.workers = []

    def _run(self, index: int) -> None:
        from django.db import connection

        from amm.runtime.worker import make_worker

        worker = make_worker(name=f"test-{uuid.uuid4().hex[:8]}-{index}")
        self.workers.append(worker)
        try:
            while not self.stop_event.is_set():
                worker.work(burst=False, max_idle_time=1, logging_level="WARNING")
        finally:
            connection.close()

    def start(self) -> "WorkerThreads":
        for i in range(self.count):
            thread = threading.Thread(target=self._run, args=(i,), name=f"rq-worker-{i}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        for worker in self.workers:
            worker._stop_requested = True
        for thread in self.threads:
            thread.join(timeout=10)


class SchedulerThread:
    def __init__(self, market_ids: list[str]) -> None:
        from amm.runtime.run_loop import Scheduler

        self.scheduler = Scheduler(market_ids)
        self.thread: threading.Thread | None = None

    def start(self) -> "SchedulerThread":
        assert self.scheduler.acquire(wait_ms=5000)
        self.thread = threading.Thread(target=self._run, name="amm-scheduler", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        from django.db import connection

        try:
            self.scheduler.run()
        finally:
            connection.close()

    def stop(self) -> None:
        self.scheduler.stop()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.scheduler.release()


@dataclass
class Runtime:
    """A platform, the AMM's key and money, a trader, one market with the AMM enabled."""

    url: str
    amm_key: str
    market_id: str
    trader_id: str
    trader_key: str
    started: list = field(default_factory=list)

    # --- platform side --------------------------------------------------------------------
    def take(self, side: str, qty: int, *, market_id: str | None = None) -> list[dict]:
        """The trader crosses the AMM's quotes with an IOC BUY at 99 over HTTP; its trades."""
        with httpx.Client(base_url=f"{self.url}/api/v1", timeout=10,
                          headers={"Authorization": f"Token {self.trader_key}", "Connection": "close"}) as http:
            response = http.post("/orders", json={
                "market_id": market_id or self.market_id, "client_order_id": uuid.uuid4().hex, "side": side,
                "direction": "BUY", "price_cents": 99, "quantity": qty, "time_in_force": "IOC"})
        assert response.status_code in (200, 201), response.text
        return response.json().get("trades", [])

    def set_status(self, status: str, outcome: str | None = None, *, market_id: str | None = None,
                   watch: bool = True) -> None:
        """Move the market on the platform; with `watch`, the feed's status watch sees it (as it
        would within AMM_STATUS_POLL_MS) and requests the market's cycle."""
        from amm.runtime.context import context
        from amm.runtime.feed import status_watch
        from exchange.services import market_set_status

        market_set_status(market_id=market_id or self.market_id, status=status, outcome=outcome, actor="test")
        if watch:
            status_watch(context())

    def open_orders(self, market_id: str | None = None) -> dict[str, int]:
        from exchange.models import Order

        return {str(o.id): o.quantity - o.filled_quantity for o in Order.objects.filter(
            user_id=AMM_USER_ID, market_id=market_id or self.market_id, status__in=["OPEN", "PARTIALLY_FILLED"])}

    def tracked(self, market_id: str | None = None) -> dict[str, int]:
        return {oid: o.remaining for oid, o in state.orders_get(market_id or self.market_id).items()}

    def book(self, market_id: str | None = None) -> dict:
        with httpx.Client(base_url=f"{self.url}/api/v1", timeout=10,
                          headers={"Authorization": f"Token {self.trader_key}", "Connection": "close"}) as http:
            return http.get(f"/orderbook/{market_id or self.market_id}").json()

    def quoting(self, market_id: str | None = None) -> bool:
        """Both sides live on the platform, and exactly those orders tracked in Redis."""
        live = self.open_orders(market_id)
        book = self.book(market_id)
        return bool(live) and bool(book["bids"]) and bool(book["asks"]) and live == self.tracked(market_id)

    def position(self, market_id: str | None = None):
        from exchange.models import Position

        return Position.objects.filter(user_id=AMM_USER_ID, market_id=market_id or self.market_id).first()

    def instance(self, market_id: str | None = None):
        from amm.models import AMMInstance

        return AMMInstance.objects.get(market_id=market_id or self.market_id)

    def new_market(self, **config: Any) -> str:
        from amm.services import config_update, instance_enable
        from exchange.services import market_create

        market_id = f"MKT-{uuid.uuid4().hex[:8]}"
        market_create(market_id=market_id, title="runtime test market", maker_fee_bps=0, taker_fee_bps=50)
        instance_enable(market_id=market_id, budget_cents=200_000, actor="test")
        config_update(market_id=market_id, actor="test", **{**RUNTIME_CONFIG, **config})
        return market_id

    # --- AMM side -----------------------------------------------------------------------------
    def start(self, *market_ids: str) -> None:
        """What run_amm does first: start (sync) the markets and arm the dead man's switch."""
        from amm.runtime import deadman_arming as deadman
        from amm.runtime.context import context
        from amm.runtime.startup import market_start

        ids = list(market_ids) or [self.market_id]
        for market_id in ids:
            assert market_start(market_id) == "RUNNING"
        state.run_markets_set(ids)
        deadman.arm(context(), timeout_ms=deadman.timeout_for(ids), market_ids=ids)

    def run(self, *market_ids: str, workers: int = 2) -> tuple[SchedulerThread, WorkerThreads]:
        """Scheduler and workers running (call `start` first)."""
        ids = list(market_ids) or [self.market_id]
        pool = WorkerThreads(workers).start()
        sched = SchedulerThread(ids).start()
        self.started += [sched, pool]
        return sched, pool

    def stop(self) -> None:
        for item in reversed(self.started):
            item.stop()
        self.started.clear()


@pytest.fixture(scope="session", autouse=True)
def _stop_deadman_sweeper(django_db_setup):
    """The AMM's cancel-all-after starts the platform's sweeper thread in this process (the
    live_server's); it must let go of the test database before the database is dropped."""
    from exchange.services.deadman import deadman_sweeper_stop

    yield
    deadman_sweeper_stop()


@pytest.fixture
def rt(live_server, redis_conn, settings):
    from amm.runtime.context import context_reset
    from amm.services import config_update, instance_enable
    from exchange.models import User
    from exchange.services import account_deposit, api_key_issue, market_create, user_get_or_create

    account_deposit(user_id=AMM_USER_ID, amount_cents=1_000_000)
    amm_key = api_key_issue(user=User.objects.get(pk=AMM_USER_ID))
    trader, _ = user_get_or_create(username=f"trader_{uuid.uuid4().hex[:8]}")
    account_deposit(user_id=str(trader.id), amount_cents=10_000_000)
    trader_key = api_key_issue(user=trader)
    market_id = f"MKT-{uuid.uuid4().hex[:8]}"
    market_create(market_id=market_id, title="Will the runtime quote?", maker_fee_bps=0, taker_fee_bps=50)
    instance_enable(market_id=market_id, budget_cents=200_000, actor="test")
    config_update(market_id=market_id, actor="test", **RUNTIME_CONFIG)
    settings.AMM_PLATFORM_BASE_URL = live_server.url
    settings.AMM_PLATFORM_API_KEY = amm_key
    settings.AMM_PLATFORM_KEEPALIVE = False  # the test server's keep-alive stalls ~40 ms a request (Nagle)
    settings.AMM_PLATFORM_TIMEOUT_MS = 5000
    settings.AMM_PLATFORM_BACKOFF_BASE_MS = 5
    settings.AMM_RECONCILE_INTERVAL_S = 3600
    settings.AMM_FEED_WINDOW_MS = 500
    context_reset()
    from amm.runtime import cycle as cycle_module

    original = cycle_module.quote_cycle

    def counting(market_id, *, reason="tick", **kwargs):
        result = original(market_id, reason=reason, **kwargs)
        if result.reason == "fill":  # the cycle's own: a rerun request it served gives it its reason
            FILL_CYCLES[market_id] = FILL_CYCLES.get(market_id, 0) + 1
        return result

    cycle_module.quote_cycle = counting
    runtime = Runtime(url=live_server.url, amm_key=amm_key, market_id=market_id, trader_id=str(trader.id),
                      trader_key=trader_key)
    try:
        yield runtime
    finally:
        runtime.stop()
        cycle_module.quote_cycle = original
        context_reset()


def subprocess_database_url() -> str:
    """DATABASE_URL of the database this test process uses (pytest-django's test database)."""
    from urllib.parse import quote

    from django.conf import settings

    cfg = settings.DATABASES["default"]
    user = quote(cfg.get("USER") or "postgres", safe="")
    password = cfg.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host, port = cfg.get("HOST") or "127.0.0.1", cfg.get("PORT") or ""
    if host.startswith("/"):
        return f"postgresql://{auth}@/{quote(cfg['NAME'], safe='')}?host={quote(host, safe='')}" + (
            f"&port={port}" if port else "")
    return f"postgresql://{auth}@{host}{':' + str(port) if port else ''}/{quote(cfg['NAME'], safe='')}"
