"""The traders' order flow as data (pure): arrivals drawn from the seed, and the one rule
that turns an arrival into an order given the book a trader sees.

An `Arrival` is an intent fixed in advance (when, who, which side, how much, at what
valuation); `order_for(arrival, bid, ask)` decides the actual order from the best YES-view
bid and ask at that moment. The live run applies it to the platform's book; the offline
baselines (sim/baselines.py) apply the same function to their own book. So the inputs are
the same for every market maker; only what the traders find differs.

Trader kinds (SPEC-free, the simulator's own):
- noise: Poisson arrivals, random side and size; "take" sends a marketable IOC at the touch
  (plus a cent or two of slippage) unless the spread is wider than they tolerate; "rest"
  places a GTC limit at or near the touch that is cancelled after a while;
- informed: learn the true probability, act after a latency, and buy (sell) with an IOC
  only where the ask (bid) is below (above) their valuation by their edge;
- stale: takers of stale quotes: they watch the truth and, right after it jumps by a few
  cents, hit quotes that have not moved yet (a short latency, a small edge).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from sim.scenarios import TruePath, rng_for

KINDS = ("noise", "informed", "stale")


@dataclass(frozen=True)
class TraderMix:
    """Rates are per simulated second per market; sizes in shares; prices in cents."""

    noise_rate: float = 0.5
    noise_take_share: float = 0.6  # the rest place resting limit orders
    noise_size: tuple[int, int] = (1, 25)
    noise_max_spread: int = 10  # a noise taker does not cross a spread wider than this
    noise_slippage: tuple[int, int] = (0, 1)
    noise_rest_ttl: tuple[float, float] = (5.0, 30.0)
    informed_rate: float = 0.12
    informed_latency: float = 1.5
    informed_edge: float = 1.5
    informed_size: tuple[int, int] = (10, 40)
    stale_on: bool = True
    stale_threshold: float = 3.0  # a truth move of this many cents within `stale_window` triggers
    stale_window: float = 2.0
    stale_latency: float = 0.3
    stale_edge: float = 1.0
    stale_size: tuple[int, int] = (20, 60)
    stale_gap: float = 3.0  # at most one stale taker per this many seconds per market
    traders: tuple[int, int, int] = (4, 2, 1)  # platform users per kind (noise, informed, stale)

    @classmethod
    def parse(cls, text: str) -> "TraderMix":
        """`noise=0.8,informed=0.2,stale=0` (rates per simulated second; stale 0 turns the
        stale takers off); blank: the defaults."""
        values: dict = {}
        for item in filter(None, (part.strip() for part in (text or "").split(","))):
            key, sep, raw = item.partition("=")
            key = key.strip()
            try:
                number = float(raw)
            except ValueError:
                number = None
            if not sep or number is None or number < 0:
                raise ValueError(f"trader mix: {item!r} is not name=non-negative number")
            if key == "noise":
                values["noise_rate"] = number
            elif key == "informed":
                values["informed_rate"] = number
            elif key == "stale":
                values["stale_on"] = number > 0
            elif key in ("take", "noise_take_share") and number <= 1:
                values["noise_take_share"] = number
            else:
                raise ValueError(f"trader mix: unknown name {key!r} (noise, informed, stale, take)")
        return cls(**values)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Arrival:
    t: float  # simulated seconds at which the trader acts
    market: int  # index within the run
    kind: str  # noise | informed | stale
    trader: int  # which platform user of that kind
    action: str  # take | rest | snipe
    side: str | None  # BUY / SELL (YES view) for noise; a snipe's side is the book's mispricing
    size: int
    value: float | None = None  # snipe: valuation in cents (the truth when learnt)
    edge: float = 0.0  # snipe: required edge; take: slippage in cents; rest: offset from the touch
    ttl: float = 0.0  # rest: seconds until the trader cancels
    max_spread: int = 99  # take: no trade when the spread is wider
    seq: int = 0  # global order of the run's arrivals

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "Arrival":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class Order:
    side: str  # BUY / SELL, YES view
    price: int  # YES-view limit, 1..99
    size: int
    tif: str  # IOC / GTC


def arrivals_for(*, truth: TruePath, mix: TraderMix, seed: int, slot: int, market: int) -> list[Arrival]:
    """Every arrival of one market over the window, in time order (seq not yet set): drawn
    from (seed, slot) — the market's place among its seed's markets — and labelled with
    `market`, its index in the run."""
    out: list[Arrival] = []
    horizon = truth.horizon
    rng = rng_for(seed, slot, "noise")
    t = 0.0
    while mix.noise_rate > 0:
        t += rng.expovariate(mix.noise_rate)
        if t >= horizon:
            break
        side = rng.choice(("BUY", "SELL"))
        size = rng.randint(*mix.noise_size)
        trader = rng.randrange(mix.traders[0])
        if rng.random() < mix.noise_take_share:
            out.append(Arrival(t=round(t, 4), market=market, kind="noise", trader=trader, action="take", side=side,
                               size=size, edge=rng.randint(*mix.noise_slippage), max_spread=mix.noise_max_spread))
        else:
            out.append(Arrival(t=round(t, 4), market=market, kind="noise", trader=trader, action="rest", side=side,
                               size=size, edge=rng.choice((-1, 0, 0, 1)),
                               ttl=round(rng.uniform(*mix.noise_rest_ttl), 3)))
    rng = rng_for(seed, slot, "informed")
    t = 0.0
    while mix.informed_rate > 0:
        t += rng.expovariate(mix.informed_rate)
        act = t + mix.informed_latency
        if act >= horizon:
            break
        out.append(Arrival(t=round(act, 4), market=market, kind="informed", trader=rng.randrange(mix.traders[1]),
                           action="snipe", side=None, size=rng.randint(*mix.informed_size),
                           value=round(truth.cents(t), 4), edge=mix.informed_edge))
    if mix.stale_on:
        rng = rng_for(seed, slot, "stale")
        lag = max(1, int(round(mix.stale_window / truth.dt)))
        last = -math.inf
        for k in range(lag, len(truth.probs)):
            t = k * truth.dt
            act = t + mix.stale_latency
            if act >= horizon or t - last < mix.stale_gap:
                continue
            if abs(truth.probs[k] - truth.probs[k - lag]) * 100 >= mix.stale_threshold:
                last = t
                out.append(Arrival(t=round(act, 4), market=market, kind="stale",
                                   trader=rng.randrange(mix.traders[2]), action="snipe", side=None,
                                   size=rng.randint(*mix.stale_size), value=round(truth.cents(t), 4),
                                   edge=mix.stale_edge))
    kind_rank = {k: i for i, k in enumerate(KINDS)}
    out.sort(key=lambda a: (a.t, kind_rank[a.kind]))
    return out


def sequence(arrivals: list[Arrival]) -> list[Arrival]:
    """The run's arrivals of every market in one time order, numbered."""
    ordered = sorted(arrivals, key=lambda a: (a.t, a.market, KINDS.index(a.kind), a.trader, a.size))
    return [Arrival(**{**a.as_dict(), "seq": i}) for i, a in enumerate(ordered)]


def order_for(arrival: Arrival, bid: int | None, ask: int | None) -> Order | None:
    """The order a trader sends given the best YES-view bid and ask it sees (None: none)."""
    if arrival.action == "snipe":
        value, edge = arrival.value, arrival.edge
        if ask is not None and ask <= value - edge:
            return Order("BUY", _clamp(math.floor(value - edge)), arrival.size, "IOC")
        if bid is not None and bid >= value + edge:
            return Order("SELL", _clamp(math.ceil(value + edge)), arrival.size, "IOC")
        return None
    if arrival.action == "take":
        if bid is not None and ask is not None and ask - bid > arrival.max_spread:
            return None
        if arrival.side == "BUY":
            return None if ask is None else Order("BUY", _clamp(ask + int(arrival.edge)), arrival.size, "IOC")
        return None if bid is None else Order("SELL", _clamp(bid - int(arrival.edge)), arrival.size, "IOC")
    # rest: join or step near the touch, never crossing it
    if bid is None and ask is None:
        return None
    offset = int(arrival.edge)
    if arrival.side == "BUY":
        price = (bid if bid is not None else ask - 2) + offset
        if ask is not None:
            price = min(price, ask - 1)
    else:
        price = (ask if ask is not None else bid + 2) - offset
        if bid is not None:
            price = max(price, bid + 1)
    if not 1 <= price <= 99:
        return None
    return Order(arrival.side, price, arrival.size, "GTC")


def _clamp(price: int) -> int:
    return min(99, max(1, int(price)))
