"""What one worker thread keeps between jobs: its connector (one httpx pool), its fill feed
(the in-process LRU of trade ids), the client-order-id generator and parsed configs.

Built lazily per thread (a worker process runs one job at a time; tests run worker
threads) and rebuilt when the platform settings change. No network at construction.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from typing import Any

from django.conf import settings

from amm import state
from amm.bookkeeping import FillFeed
from amm.conf import amm_settings
from amm.connector import ClientOrderIdGenerator, PlatformClient, Trade, connector_from_settings
from amm.connector.events import BOOK_EVENTS, MARKET_EVENTS, TRADE_EVENTS, EventConsumer, RedisStreamConsumer
from amm.runtime.job_requests import request_requote
from amm.services import config_reload
from amm.strategy import StrategyConfig

log = logging.getLogger(__name__)


class RuntimeFillFeed(FillFeed):
    """The fill feed, remembering what it applied so the runtime can requote those markets
    at once and hand the fills to their next cycle (`amm:fills:{m}`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.applied: list[Trade] = []
        self.woken: list[Trade] = []  # the fills the last wake handed on

    def apply(self, trade: Trade, *, now: int | None = None) -> bool:
        applied = super().apply(trade, now=now)
        if applied:
            self.applied.append(trade)
        return applied

    def poll(self, *, now: int | None = None, max_pages: int | None = None, wait_ms: int = 0):
        result = super().poll(now=now, max_pages=max_pages, wait_ms=wait_ms)
        if self.applied:
            self.wake()
        return result

    def wake(self, running: set[str] | None = None) -> dict[str, int]:
        """Push the applied fills to their markets and request a requote of each the scheduler
        drives (`running`, read when not given) at once (reason "fill": the fast lane, else the
        front of the queue); returns fills per market."""
        trades, self.applied = self.applied, []
        self.woken = trades
        by_market: dict[str, list[dict[str, Any]]] = {}
        for trade in trades:
            by_market.setdefault(trade.market_id, []).append({
                "price_cents": trade.price_cents, "quantity": trade.quantity,
                "ts_ms": trade.executed_ms or state.now_ms(), "trade_id": str(trade.id),
            })
        if running is None:
            running = state.run_markets_get()
        for market_id, fills in by_market.items():
            state.fills_push(market_id, fills)
            if market_id in running:
                try:
                    request_requote(market_id, reason="fill")
                except Exception:  # noqa: BLE001 - the scheduler's tick requotes anyway
                    log.warning("could not request a requote of %s after a fill", market_id, exc_info=True)
        return {m: len(f) for m, f in by_market.items()}


class RuntimeContext:
    def __init__(self, connector: PlatformClient | None = None) -> None:
        if connector is None:
            kwargs: dict[str, Any] = {}
            if not amm_settings.AMM_PLATFORM_KEEPALIVE:
                kwargs["headers"] = {"Connection": "close"}
            connector = connector_from_settings(**kwargs)
        self.connector = connector
        self.feed = RuntimeFillFeed(connector=connector)
        self.ids = ClientOrderIdGenerator(start=secrets.randbelow(1_000_000))
        self.configs: dict[str, tuple[int, StrategyConfig]] = {}
        self.instances: dict[str, Any] = {}  # market -> the instance row held (amm/runtime/instance_cache.py)
        self.strategies: dict[str, tuple[str, Any]] = {}  # market -> (the amm:strategy text written, its StrategyState)
        self.key = _settings_key()
        self._events: EventConsumer | None = None
        self.events_retry_at = 0.0  # monotonic: the stream failed; REST polling until then
        self.events_current = False  # False: the next stream window catches up over REST first
        self.events_catchup_at = 0.0  # monotonic: the next REST catch-up while the stream is read
        self.book_fallbacks: set[str] = set()  # markets whose cycles read the REST book for want of a pushed one

    def events(self) -> EventConsumer | None:
        """This context's member of the AMM's consumer group on the platform's event streams
        (None with AMM_PUSH off). Its name is unique per process and context: a dead one's
        pending events are claimed by the next (XAUTOCLAIM)."""
        if not amm_settings.AMM_PUSH:
            return None
        if self._events is None:
            name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
            self._events = RedisStreamConsumer(
                url=events_redis_url(), streams=[TRADE_EVENTS, MARKET_EVENTS, BOOK_EVENTS],
                group=amm_settings.AMM_EVENTS_GROUP, consumer=name,
                claim_idle_ms=amm_settings.AMM_EVENTS_CLAIM_IDLE_MS)
        return self._events

    def config(self, market_id: str, version: int | None) -> StrategyConfig:
        """The market's StrategyConfig at `version` (parsed once per version; republished
        from the database when Redis lost it)."""
        cached = self.configs.get(market_id)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        loaded = config_reload(market_id=market_id, known_version=None)
        if loaded is None:
            if cached is not None:
                return cached[1]
            return StrategyConfig()
        self.configs[market_id] = loaded
        return loaded[1]

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
        try:
            self.connector.close()
        except Exception:  # noqa: BLE001
            pass


_local = threading.local()


def events_redis_url() -> str:
    """The platform's Redis, where its event streams are (AMM_EVENTS_REDIS_URL, else REDIS_URL)."""
    return amm_settings.AMM_EVENTS_REDIS_URL or settings.REDIS_URL


def _settings_key() -> tuple:
    return (amm_settings.AMM_PLATFORM_BASE_URL, amm_settings.AMM_PLATFORM_API_KEY, settings.REDIS_URL,
            amm_settings.AMM_PLATFORM_KEEPALIVE, amm_settings.AMM_PUSH, events_redis_url(),
            amm_settings.AMM_EVENTS_GROUP)


def context() -> RuntimeContext:
    """This thread's RuntimeContext."""
    ctx: RuntimeContext | None = getattr(_local, "ctx", None)
    if ctx is None or ctx.key != _settings_key():
        if ctx is not None:
            ctx.close()
        ctx = _local.ctx = RuntimeContext()
    return ctx


def context_reset() -> None:
    ctx = getattr(_local, "ctx", None)
    if ctx is not None:
        ctx.close()
    _local.ctx = None
