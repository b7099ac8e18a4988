"""Simulated traders for the demo: ordinary platform users trading over the REST API.

A hidden "true" probability follows a bounded random walk. Informed traders know it and
take liquidity when the book is mispriced by more than their edge; noise traders take or
rest small orders around the touch at random. Everything is seeded: the same seed gives
the same order flow (given the same book).
"""
from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx


@dataclass
class TruePrice:
    """Logit random walk of the event's probability, in cents (1..99)."""

    cents: float = 50.0
    vol: float = 0.04  # logit step per tick

    def step(self, rng: random.Random) -> int:
        p = min(0.985, max(0.015, self.cents / 100))
        logit = math.log(p / (1 - p)) + rng.gauss(0, self.vol)
        self.cents = min(98.5, max(1.5, 100 / (1 + math.exp(-logit))))  # a price, never 0 or 100
        return round(self.cents)


@dataclass
class Trader:
    name: str
    key: str
    informed: bool
    edge_cents: int = 2
    client: httpx.Client = field(init=False, repr=False)

    def __post_init__(self):
        self.client = httpx.Client(headers={"Authorization": f"Token {self.key}"}, timeout=5.0)


@dataclass
class Stats:
    orders: int = 0
    fills: int = 0
    rejected: int = 0


def _book(client: httpx.Client, base: str, market_id: str) -> tuple[int | None, int | None]:
    book = client.get(f"{base}/api/v1/orderbook/{market_id}", params={"depth": 1}).json()
    bid = book["bids"][0][0] if book.get("bids") else None
    ask = book["asks"][0][0] if book.get("asks") else None
    return bid, ask


def _order(trader: Trader, base: str, market_id: str, side: str, direction: str, price: int, qty: int,
           tif: str, stats: Stats) -> None:
    body = {"market_id": market_id, "client_order_id": f"sim-{uuid.uuid4().hex}", "side": side,
            "direction": direction, "price_cents": max(1, min(99, price)), "quantity": qty, "time_in_force": tif}
    answer = trader.client.post(f"{base}/api/v1/orders", json=body)
    stats.orders += 1
    if answer.status_code in (200, 201):
        stats.fills += len(answer.json().get("trades", []))
    else:
        stats.rejected += 1


def trader_act(trader: Trader, base: str, market_id: str, truth: int, rng: random.Random, stats: Stats) -> None:
    """One decision of one trader. Buying NO at q is the YES-view sell at 100 − q."""
    bid, ask = _book(trader.client, base, market_id)
    qty = rng.randint(1, 10) * (3 if trader.informed else 1)
    if trader.informed:
        if ask is not None and ask < truth - trader.edge_cents:
            _order(trader, base, market_id, "YES", "BUY", ask, qty, "IOC", stats)
        elif bid is not None and bid > truth + trader.edge_cents:
            _order(trader, base, market_id, "NO", "BUY", 100 - bid, qty, "IOC", stats)
        return
    if rng.random() < 0.5 and (bid is not None or ask is not None):  # take at the touch
        if rng.random() < 0.5 and ask is not None:
            _order(trader, base, market_id, "YES", "BUY", ask, qty, "IOC", stats)
        elif bid is not None:
            _order(trader, base, market_id, "NO", "BUY", 100 - bid, qty, "IOC", stats)
    else:  # rest a small order a few cents off the truth
        offset = rng.randint(2, 6)
        if rng.random() < 0.5:
            _order(trader, base, market_id, "YES", "BUY", truth - offset, qty, "GTC", stats)
        else:
            _order(trader, base, market_id, "NO", "BUY", 100 - truth - offset, qty, "GTC", stats)


def traders_run(*, base: str, market_id: str, traders: list[Trader], rate_per_s: float, seed: int,
                duration_s: float | None = None, on_tick=None) -> Stats:
    """Drive the traders at about `rate_per_s` actions per second until `duration_s` (or forever)."""
    rng = random.Random(seed)
    truth = TruePrice()
    stats = Stats()
    started = time.monotonic()
    while duration_s is None or time.monotonic() - started < duration_s:
        cents = truth.step(rng)
        trader = rng.choice(traders)
        try:
            trader_act(trader, base, market_id, cents, rng, stats)
        except httpx.HTTPError:
            stats.rejected += 1
        if on_tick is not None:
            on_tick(cents, stats)
        time.sleep(rng.expovariate(rate_per_s))
    return stats
