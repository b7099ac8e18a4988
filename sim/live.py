"""The traders of a live run: each arrival (sim/flow.py) executed at its wall time over the
platform's HTTP API, as the trader's own platform user.

One dispatcher thread releases arrivals on time to a small pool of threads; each reads the
market's book (`GET /api/v1/orderbook/{id}?depth=1`), decides its order with
`flow.order_for` and sends it (`POST /api/v1/orders`: a YES-view buy is BUY YES at p, a
sell is BUY NO at 100 − p, so traders only ever spend cash). A resting order is cancelled
(`DELETE /api/v1/orders/{id}`) when its ttl ends. What each arrival did is recorded.
"""
from __future__ import annotations

import heapq
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import httpx

from sim.flow import Arrival, order_for
from sim.oracle import SimClock


@dataclass
class Execution:
    seq: int
    market: int
    kind: str
    sent_sim_t: float  # when it was actually sent (simulated seconds)
    bid: int | None
    ask: int | None
    side: str | None = None
    price: int | None = None
    size: int = 0
    tif: str | None = None
    status: int | None = None  # HTTP status (None: no order, or no answer)
    filled: int = 0
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class LiveTraders:
    def __init__(self, *, base_url: str, keys: dict[tuple[str, int], str], market_ids: list[str],
                 arrivals: list[Arrival], clock: SimClock, run_tag: str, threads: int = 8) -> None:
        self.base = base_url.rstrip("/")
        self.keys = keys
        self.market_ids = market_ids
        self.arrivals = sorted(arrivals, key=lambda a: (a.t, a.seq))
        self.clock = clock
        self.run_tag = run_tag
        self.executions: list[Execution] = []
        self.client = httpx.Client(timeout=10.0, limits=httpx.Limits(max_connections=threads * 2,
                                                                      max_keepalive_connections=threads))
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sim-trader")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._cancels: list[tuple[float, int, str, str]] = []  # (wall due, seq, order id, api key)
        self._resting: dict[str, str] = {}  # order id -> api key, until cancelled
        self._thread: threading.Thread | None = None
        self.released = 0

    # --- counters for the status line ----------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            sent = [e for e in self.executions if e.side is not None]
            return {"arrivals": self.released, "orders": len(sent),
                    "rejected": sum(1 for e in sent if e.status not in (200, 201)),
                    "filled": sum(e.filled for e in sent)}

    # --- run ---------------------------------------------------------------------------------
    def start(self) -> "LiveTraders":
        self._thread = threading.Thread(target=self._dispatch, name="sim-traders", daemon=True)
        self._thread.start()
        return self

    def _dispatch(self) -> None:
        index = 0
        while not self._stop.is_set():
            now = time.time()
            while index < len(self.arrivals) and self.clock.wall(self.arrivals[index].t) <= now:
                arrival = self.arrivals[index]
                index += 1
                self.released += 1
                self._pool.submit(self._act, arrival)
            with self._lock:
                due = []
                while self._cancels and self._cancels[0][0] <= now:
                    due.append(heapq.heappop(self._cancels))
            for _, _, order_id, key in due:
                self._pool.submit(self._cancel, order_id, key)
            next_at = self.clock.wall(self.arrivals[index].t) if index < len(self.arrivals) else now + 0.2
            self._stop.wait(max(0.0, min(0.05, next_at - time.time())))

    def _headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Token {key}"}

    def _act(self, arrival: Arrival) -> None:
        market_id = self.market_ids[arrival.market]
        key = self.keys[(arrival.kind, arrival.trader)]
        execution = Execution(seq=arrival.seq, market=arrival.market, kind=arrival.kind,
                              sent_sim_t=round(self.clock.sim_now(), 4), bid=None, ask=None)
        try:
            book = self.client.get(f"{self.base}/api/v1/orderbook/{market_id}", params={"depth": 1},
                                   headers=self._headers(key)).json()
            execution.bid = book["bids"][0][0] if book.get("bids") else None
            execution.ask = book["asks"][0][0] if book.get("asks") else None
            order = order_for(arrival, execution.bid, execution.ask)
            if order is not None:
                execution.side, execution.price, execution.size, execution.tif = (
                    order.side, order.price, order.size, order.tif)
                side, price = ("YES", order.price) if order.side == "BUY" else ("NO", 100 - order.price)
                answer = self.client.post(f"{self.base}/api/v1/orders", headers=self._headers(key), json={
                    "market_id": market_id, "client_order_id": f"sim-{self.run_tag}-{arrival.seq}", "side": side,
                    "direction": "BUY", "price_cents": price, "quantity": order.size,
                    "time_in_force": order.tif})
                execution.status = answer.status_code
                if answer.status_code in (200, 201):
                    body = answer.json()
                    placed = body.get("order") or {}
                    execution.filled = int(placed.get("filled_quantity") or 0)
                    if order.tif == "GTC" and placed.get("status") in ("OPEN", "PARTIALLY_FILLED"):
                        with self._lock:
                            self._resting[str(placed["id"])] = key
                            heapq.heappush(self._cancels, (time.time() + arrival.ttl / self.clock.speed,
                                                           arrival.seq, str(placed["id"]), key))
                else:
                    execution.error = answer.text[:200]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            execution.error = f"{type(exc).__name__}: {exc}"[:200]
        with self._lock:
            self.executions.append(execution)

    def _cancel(self, order_id: str, key: str) -> None:
        try:
            self.client.delete(f"{self.base}/api/v1/orders/{order_id}", headers=self._headers(key))
        except httpx.HTTPError:
            pass  # filled or cancelled meanwhile, or the platform is going away
        with self._lock:
            self._resting.pop(order_id, None)

    def stop(self) -> None:
        """No more arrivals; the sent ones finish; resting orders are cancelled."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)
        with self._lock:
            left = list(self._resting.items())
            self._cancels.clear()
        for order_id, key in left:
            self._cancel(order_id, key)
        self.client.close()
