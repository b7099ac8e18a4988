"""The platform's WebSocket order-book feed (docs/push.md): one connection per market to
`/ws/v1/orderbook/{market_id}`, each keeping a book (`make_book`: a `LocalOrderBook`) from a SNAPSHOT and the DELTAs
after it. A delta whose `prev_sequence_id` is not the book's last sequence is a gap: the book
is stale, `{"action": "resnapshot"}` is sent once, and the next SNAPSHOT heals it; a lost
connection reconnects (the server's first message is a SNAPSHOT).

`BookStreams` runs its connections on an asyncio loop in a thread of its own and reports to
the caller through two callbacks, called on that thread:
  on_book(market_id, book, kind)   kind "snapshot" or "delta", after the book changed
  on_unhealthy(market_id, reason)  a gap or a lost connection: the book is not to be used
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any, Callable, Mapping, Protocol

import websockets

log = logging.getLogger(__name__)


class Book(Protocol):
    """What the feed needs of a book (amm.strategy.book.LocalOrderBook is one; the connector
    does not import the strategy, the caller hands in `make_book`)."""

    last_sequence_id: int
    stale: bool

    def apply_snapshot(self, msg: Mapping[str, Any]) -> None: ...

    def apply_delta(self, msg: Mapping[str, Any]) -> bool: ...


OnBook = Callable[[str, Book, str], None]
OnUnhealthy = Callable[[str, str], None]
RESNAPSHOT = json.dumps({"action": "resnapshot"})


def ws_base_url(http_base: str) -> str:
    """ws(s):// of an http(s):// base URL."""
    if http_base.startswith("https://"):
        return "wss://" + http_base[len("https://"):].rstrip("/")
    if http_base.startswith("http://"):
        return "ws://" + http_base[len("http://"):].rstrip("/")
    return http_base.rstrip("/")


class BookStreams:
    def __init__(self, *, base_url: str, api_key: str, make_book: Callable[[str], Book], on_book: OnBook,
                 on_unhealthy: OnUnhealthy,
                 reconnect_s: float = 0.5, open_timeout_s: float = 5.0, max_backoff_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.make_book, self.on_book, self.on_unhealthy = make_book, on_book, on_unhealthy
        self.reconnect_s, self.open_timeout_s, self.max_backoff_s = reconnect_s, open_timeout_s, max_backoff_s
        self.counters = {"snapshots": 0, "deltas": 0, "gaps": 0, "reconnects": 0}
        self.books: dict[str, Book] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._tasks: dict[str, asyncio.Task] = {}
        self._ready = threading.Event()

    # --- the caller's thread ------------------------------------------------------------------
    def start(self) -> "BookStreams":
        self._thread = threading.Thread(target=self._run, name="amm-book-streams", daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def set_markets(self, market_ids) -> None:
        """Keep one connection per market of `market_ids`: new ones connect, others close."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._sync, set(market_ids))

    def later(self, delay_s: float, fn: Callable[..., None], *args: Any) -> None:
        """Call `fn(*args)` on the loop's thread in `delay_s` (from any thread; dropped when the
        loop is not running)."""
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(loop.call_later, delay_s, fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is None or self._loop.is_closed():  # never started, or stopped already
            return
        self._loop.call_soon_threadsafe(self._sync, set())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)

    # --- the loop's thread --------------------------------------------------------------------
    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            # Every task of the loop, as asyncio.run ends: ours, those cancelled by a stop and still
            # closing their connection, and the library's (a connection's keepalive). One left
            # pending is destroyed with the loop (asyncio logged one per market at every stop).
            tasks = asyncio.all_tasks(self._loop)
            for task in tasks:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _sync(self, wanted: set[str]) -> None:
        for market_id in set(self._tasks) - wanted:
            self._tasks.pop(market_id).cancel()
            self.books.pop(market_id, None)
        for market_id in wanted - set(self._tasks):
            self._tasks[market_id] = self._loop.create_task(self._follow(market_id))

    async def _follow(self, market_id: str) -> None:
        url = f"{self.base_url}/ws/v1/orderbook/{market_id}"
        headers = {"Authorization": f"Token {self.api_key}"}
        failures = 0
        while True:
            snapshots = self.counters["snapshots"]
            try:
                async with websockets.connect(url, additional_headers=headers, open_timeout=self.open_timeout_s,
                                              compression=None, max_queue=None) as ws:
                    await self._read(market_id, ws)
                reason = "connection closed"
            except asyncio.CancelledError:
                raise
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
                reason = f"connection lost: {exc!r}"
            self.counters["reconnects"] += 1
            self.books.pop(market_id, None)
            self._report_unhealthy(market_id, reason)
            # Back off while it fails (a platform without WebSockets must not be knocked on
            # for every market twice a second); a connection that worked retries at once.
            failures = 0 if self.counters["snapshots"] > snapshots else failures + 1
            await asyncio.sleep(min(self.max_backoff_s, self.reconnect_s * 2 ** min(failures, 10)) if failures else
                                self.reconnect_s / 10)

    async def _read(self, market_id: str, ws) -> None:
        book = self.make_book(market_id)
        book.stale = True  # nothing to use before the first SNAPSHOT
        asked = False  # a resnapshot is in flight
        async for raw in ws:
            try:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "SNAPSHOT":
                    book.apply_snapshot(msg)
                    asked = False
                    self.books[market_id] = book
                    self.counters["snapshots"] += 1
                    self._report(market_id, book, "snapshot")
                elif kind == "DELTA":
                    before = book.last_sequence_id
                    if book.apply_delta(msg):
                        if book.last_sequence_id != before:
                            self.counters["deltas"] += 1
                            self._report(market_id, book, "delta")
                    elif not asked:  # a gap: stale until the next snapshot
                        asked = True
                        self.counters["gaps"] += 1
                        self._report_unhealthy(market_id, f"sequence gap after {book.last_sequence_id}: "
                                                          f"delta {msg.get('prev_sequence_id')}->{msg.get('sequence_id')}")
                        await ws.send(RESNAPSHOT)
                elif kind == "ERROR":
                    log.warning("book feed %s: %s", market_id, msg)
            except (ValueError, KeyError, TypeError) as exc:  # a message that breaks the contract
                log.error("book feed %s: bad message %r: %r", market_id, raw[:200], exc)
                if not asked:
                    asked = True
                    book.stale = True
                    self._report_unhealthy(market_id, "bad message")
                    await ws.send(RESNAPSHOT)

    def _report(self, market_id: str, book: Book, kind: str) -> None:
        try:
            self.on_book(market_id, book, kind)
        except Exception:  # noqa: BLE001 - the caller's trouble must not kill the connection
            log.exception("book feed %s: on_book failed", market_id)

    def _report_unhealthy(self, market_id: str, reason: str) -> None:
        try:
            self.on_unhealthy(market_id, reason)
        except Exception:  # noqa: BLE001
            log.exception("book feed %s: on_unhealthy failed", market_id)
