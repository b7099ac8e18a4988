"""Baseline market makers replayed offline on a live run's inputs (pure, deterministic).

Each baseline trades the same markets as the AMM did: the same true path, the same trader
arrivals (sim/flow.py), each arrival turned into an order by the same rule
(`flow.order_for`) from the book the baseline presents, in one event-driven pass. Nothing
here reads a clock or a global random source: the same inputs give the same fills, to the
cent.

- `SymmetricQuoter`: quotes the AMM's own fair price (as sampled from the live run, once
  per sample) ± half the AMM's median live spread, with the AMM's ladder (levels, spacing)
  and its median size at the touch on every level; no inventory skew, no defense, no phase;
  one side stops at the AMM's position limit. It isolates what the AMM's inventory
  management and defenses add (or cost) on the same information.
- `LmsrMaker`: Hanson's logarithmic market scoring rule, C(q) = 100·b·ln(e^{q_yes/b} +
  e^{q_no/b}) cents, started at the AMM's first fair price, with b chosen so that one cent
  of price move at 50 c takes the AMM's median depth at the touch (Δq = 0.04·b). It always
  quotes, needs no price feed, and loses at most 100·b·ln 2 cents from a 50 c start
  (100·b·ln(1/min(p0, 1 − p0)) from p0).

The replay's book holds the baseline's quotes and the traders' resting orders (noise
traders' GTC limits, cancelled after their ttl). Matching is by price, and at equal price
the traders' resting orders go first (the live AMM requotes every second and so rarely keeps
time priority). A baseline's requote that would cross a trader's resting order is left out
(post-only). Limits are listed in the report.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

from sim.flow import Arrival, order_for
from sim.scenarios import TruePath


@dataclass(frozen=True)
class Fill:
    t: float  # simulated seconds
    d: int  # +1: the market maker bought (YES view), −1: sold
    qty: int
    price: float  # YES-view cents (an LMSR share costs a fraction of a cent)
    kind: str  # the counterparty's trader kind
    mid: float | None  # the maker's own mid/fair price just before the fill
    fee: float = 0.0  # cents the maker paid


@dataclass(frozen=True)
class QuoteState:
    t: float
    bid: float | None
    ask: float | None
    bid_size: int
    ask_size: int


@dataclass(frozen=True)
class MarketInputs:
    """What one market's replay needs (all in simulated seconds and cents)."""

    truth: TruePath
    arrivals: tuple[Arrival, ...]
    quote_times: tuple[float, ...]  # the live run's sample times: the symmetric quoter's requotes
    fair: tuple[float | None, ...]  # the AMM's fair price at each quote time
    spread: int  # the symmetric quoter's width (the AMM's median live spread)
    size: int  # per level (the AMM's median size at the touch)
    levels: int
    spacing: int
    position_limit: int
    maker_fee_bps: int
    lmsr_b: float
    lmsr_p0: float  # cents


@dataclass
class MakerRun:
    name: str
    fills: list[Fill] = field(default_factory=list)
    quotes: list[QuoteState] = field(default_factory=list)
    params: dict = field(default_factory=dict)


def fee_cents(price_cents: float, qty: int, bps: int) -> float:
    """ceil(notional × bps / 10000) as the platform charges a maker (YES-view notional)."""
    if bps <= 0:
        return 0.0
    return float(math.ceil(price_cents * qty * bps / 10_000 - 1e-9))


class _TraderBook:
    """The traders' resting GTC orders: price levels per side, time priority within."""

    def __init__(self) -> None:
        self.orders: dict[int, list] = {}  # seq -> [side, price, remaining, kind]

    def best(self, side: str) -> tuple[int, int] | None:
        """(price, seq) of the best resting order on `side` (BUY: highest bid, SELL: lowest ask)."""
        best = None
        for seq, (s, price, remaining, _) in self.orders.items():
            if s != side or remaining <= 0:
                continue
            key = (-price, seq) if side == "BUY" else (price, seq)
            if best is None or key < best[0]:
                best = (key, price, seq)
        return None if best is None else (best[1], best[2])

    def best_price(self, side: str) -> int | None:
        best = self.best(side)
        return None if best is None else best[0]


class _Maker:
    name = "maker"

    def __init__(self, inputs: MarketInputs) -> None:
        self.inputs = inputs
        self.run = MakerRun(name=self.name)
        self.position = 0

    # the maker's side of the book, YES view
    def best_ask(self) -> float | None: ...
    def best_bid(self) -> float | None: ...
    def mid(self) -> float | None: ...
    def take_ask(self, t: float, kind: str, limit: int, want: int, other: int | None) -> int: ...
    def take_bid(self, t: float, kind: str, limit: int, want: int, other: int | None) -> int: ...
    def requote(self, t: float, index: int, book: _TraderBook) -> None: ...
    def state(self, t: float) -> QuoteState: ...

    def record(self, t: float, d: int, qty: int, price: float, kind: str, mid: float | None, fee: float) -> None:
        self.position += d * qty
        self.run.fills.append(Fill(t=t, d=d, qty=qty, price=price, kind=kind, mid=mid, fee=fee))


class SymmetricQuoter(_Maker):
    name = "symmetric"

    def __init__(self, inputs: MarketInputs) -> None:
        super().__init__(inputs)
        self.bids: list[list] = []  # [price, remaining], best first
        self.asks: list[list] = []
        self.fair: float | None = None
        self.run.params = {"spread_cents": inputs.spread, "size": inputs.size, "levels": inputs.levels,
                           "spacing_cents": inputs.spacing, "position_limit": inputs.position_limit}

    def requote(self, t: float, index: int, book: _TraderBook) -> None:
        fair = self.inputs.fair[index]
        if fair is None:
            self.bids, self.asks = [], []
            return
        self.fair = fair
        half = self.inputs.spread / 2
        bid0 = math.floor(fair - half + 1e-9)
        ask0 = math.ceil(fair + half - 1e-9)
        if ask0 <= bid0:
            ask0 = bid0 + 1
        limit = self.inputs.position_limit
        trader_ask, trader_bid = book.best_price("SELL"), book.best_price("BUY")
        self.bids = [[p, self.inputs.size] for p in (bid0 - k * self.inputs.spacing for k in range(self.inputs.levels))
                     if 1 <= p <= 99 and self.position < limit and (trader_ask is None or p < trader_ask)]
        self.asks = [[p, self.inputs.size] for p in (ask0 + k * self.inputs.spacing for k in range(self.inputs.levels))
                     if 1 <= p <= 99 and self.position > -limit and (trader_bid is None or p > trader_bid)]

    def best_ask(self) -> float | None:
        return next((p for p, r in self.asks if r > 0), None)

    def best_bid(self) -> float | None:
        return next((p for p, r in self.bids if r > 0), None)

    def mid(self) -> float | None:
        return self.fair

    def _take(self, levels: list[list], t: float, kind: str, want: int, ok, d: int) -> int:
        taken = 0
        for level in levels:
            if taken >= want:
                break
            price, remaining = level
            if remaining <= 0:
                continue
            if not ok(price):
                break
            qty = min(want - taken, remaining)
            level[1] -= qty
            taken += qty
            self.record(t, d, qty, float(price), kind, self.fair, fee_cents(price, qty, self.inputs.maker_fee_bps))
        return taken

    def take_ask(self, t, kind, limit, want, other):
        # the traders' resting asks at a better or equal price go first (module docstring)
        return self._take(self.asks, t, kind, want, lambda p: p <= limit and (other is None or p < other), -1)

    def take_bid(self, t, kind, limit, want, other):
        return self._take(self.bids, t, kind, want, lambda p: p >= limit and (other is None or p > other), +1)

    def state(self, t: float) -> QuoteState:
        bid, ask = self.best_bid(), self.best_ask()
        return QuoteState(t=t, bid=bid, ask=ask,
                          bid_size=sum(r for p, r in self.bids if p == bid) if bid is not None else 0,
                          ask_size=sum(r for p, r in self.asks if p == ask) if ask is not None else 0)


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


class LmsrMaker(_Maker):
    name = "lmsr"

    def __init__(self, inputs: MarketInputs) -> None:
        super().__init__(inputs)
        self.b = float(inputs.lmsr_b)
        p0 = min(0.99, max(0.01, inputs.lmsr_p0 / 100))
        self.x = self.b * math.log(p0 / (1 - p0))  # net YES the traders hold against it (offset: the start)
        self.run.params = {"b": round(self.b, 3), "p0_cents": round(100 * p0, 3),
                           "worst_loss_from_50c_cents": round(100 * self.b * math.log(2), 2),
                           "worst_loss_from_p0_cents": round(100 * self.b * math.log(1 / min(p0, 1 - p0)), 2)}

    def _cost(self, x: float) -> float:
        return 100.0 * self.b * _softplus(x / self.b)

    def buy_cost(self) -> float:
        """YES-view price of the next YES share a trader buys."""
        return self._cost(self.x + 1) - self._cost(self.x)

    def sell_price(self) -> float:
        """YES-view price of the next YES share a trader sells (buys NO)."""
        return self._cost(self.x) - self._cost(self.x - 1)

    def best_ask(self) -> float | None:
        return self.buy_cost()

    def best_bid(self) -> float | None:
        return self.sell_price()

    def mid(self) -> float | None:
        return 100.0 / (1.0 + math.exp(-self.x / self.b))

    def requote(self, t: float, index: int, book: _TraderBook) -> None:
        pass  # a curve, not quotes

    def take_ask(self, t, kind, limit, want, other):
        return self._walk(t, kind, want, -1, lambda cost: cost <= limit + 1e-9 and (other is None or cost < other))

    def take_bid(self, t, kind, limit, want, other):
        return self._walk(t, kind, want, +1, lambda price: price >= limit - 1e-9 and (other is None or price > other))

    def _walk(self, t: float, kind: str, want: int, d: int, ok) -> int:
        """Share by share along the curve while the next share's price is acceptable; one
        fill at the average price and average mid (the PnL split is linear in both)."""
        taken, paid, mids = 0, 0.0, 0.0
        while taken < want:
            price = self.buy_cost() if d < 0 else self.sell_price()
            if not ok(price):
                break
            mids += self.mid()
            self.x -= d
            taken += 1
            paid += price
        if taken:
            self.record(t, d, taken, paid / taken, kind, mids / taken, 0.0)
        return taken

    def state(self, t: float) -> QuoteState:
        p = self.mid() / 100
        depth = max(1, int(0.01 * self.b / max(p * (1 - p), 1e-6)))  # shares per cent of price move
        return QuoteState(t=t, bid=self.sell_price(), ask=self.buy_cost(), bid_size=depth, ask_size=depth)


def _touch(maker: _Maker, book: _TraderBook) -> tuple[int | None, int | None]:
    """The best bid and ask a trader sees, in whole cents."""
    mb, ma = maker.best_bid(), maker.best_ask()
    tb, ta = book.best_price("BUY"), book.best_price("SELL")
    bids = [p for p in (None if mb is None else math.floor(mb + 1e-9), tb) if p is not None]
    asks = [p for p in (None if ma is None else math.ceil(ma - 1e-9), ta) if p is not None]
    return (max(bids) if bids else None), (min(asks) if asks else None)


def _execute(maker: _Maker, book: _TraderBook, t: float, arrival: Arrival, side: str, price: int, size: int) -> int:
    """Match an incoming order; returns the quantity left (the caller rests it or drops it)."""
    left = size
    opposite = "SELL" if side == "BUY" else "BUY"
    while left > 0:
        best = book.best(opposite)
        if best is not None and not (best[0] <= price if side == "BUY" else best[0] >= price):
            best = None  # the traders' best does not cross this order
        # the maker fills at prices strictly better than the traders' best (ties: traders first)
        left -= (maker.take_ask if side == "BUY" else maker.take_bid)(
            t, arrival.kind, price, left, None if best is None else best[0])
        if left <= 0 or best is None:
            break
        resting = book.orders[best[1]]
        qty = min(left, resting[2])
        resting[2] -= qty
        left -= qty
        if resting[2] <= 0:
            del book.orders[best[1]]
    return left


def replay(maker_cls, inputs: MarketInputs) -> MakerRun:
    """One baseline over one market's inputs (module docstring)."""
    maker: _Maker = maker_cls(inputs)
    book = _TraderBook()
    events: list[tuple] = []  # (t, rank, tiebreak, kind, payload): expiries, then requotes, then arrivals
    for i, t in enumerate(inputs.quote_times):
        heapq.heappush(events, (t, 1, i, "quote", i))
    for a in inputs.arrivals:
        heapq.heappush(events, (a.t, 2, a.seq, "arrival", a))
    while events:
        t, _, _, kind, payload = heapq.heappop(events)
        if kind == "expire":
            book.orders.pop(payload, None)
        elif kind == "quote":
            maker.requote(t, payload, book)
            maker.run.quotes.append(maker.state(t))
        else:
            arrival: Arrival = payload
            bid, ask = _touch(maker, book)
            order = order_for(arrival, bid, ask)
            if order is None:
                continue
            left = _execute(maker, book, t, arrival, order.side, order.price, order.size)
            if left > 0 and order.tif == "GTC":
                book.orders[arrival.seq] = [order.side, order.price, left, arrival.kind]
                heapq.heappush(events, (t + arrival.ttl, 0, arrival.seq, "expire", arrival.seq))
    return maker.run


BASELINES = {"symmetric": SymmetricQuoter, "lmsr": LmsrMaker}


def lmsr_b_for_depth(depth_shares: float) -> float:
    """b such that one cent of price move at 50 c takes `depth_shares` (Δq = 0.01·b/(p(1−p)))."""
    return max(1.0, depth_shares) / 0.04
