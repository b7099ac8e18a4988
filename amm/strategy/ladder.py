"""Quote ladder: spread, prices, sizes and backing of every desired order (SPEC §6).

Spread (YES-view ask − bid, cents):

    raw   = (max(base_spread_cents, A-S term) + fee protection) × phase × defense × LVR multipliers
    cents = ceil(raw) bounded to [1, max_spread_cents]

with the A-S term γ·σ²·τ + (2/γ)·ln(1 + γ/k) (avellaneda.optimal_spread) and the fee
protection 2 × ceil(max(s, 100 − s) × maker_fee_bps / 10000): the maker fee of both legs of a
round trip at the worse of the two own-side prices.

Prices: best bid = round(r − spread/2), best ask = best bid + spread, clamped into the band
[min_price, max_price] keeping bid < ask; level i sits i × `level_spacing_cents` further out.
In ONE_SIDE the quoted side moves toward the other by the distress discount.

Backing (SPEC §6), inner levels first, bid and ask levels interleaved so that scarce cash is
shared between the sides:
- ask at p: SELL YES at p from sellable YES (NATIVE_SELL); when none is left, BUY NO at
  100 − p from cash (SYNTHETIC_SELL);
- bid at p: SELL NO at 100 − p from sellable NO (SYNTHETIC_BUY); when none is left, BUY YES at
  p from cash (NATIVE_BUY).
One order per level (a level never mixes backings, so a ladder has at most 2 × order_levels
orders: 4..20 with config's 2..10 levels per side, SPEC §6; fewer when one side is pulled or
capacity runs out). A level whose inventory runs short is quoted with what is left.

Limits (invariants the tests check on random inputs):
- every own-side price and every YES-view price in [min_price, max_price];
- best bid < best ask;
- Σ SELL YES ≤ sellable YES, Σ SELL NO ≤ sellable NO (A2);
- Σ cash of BUYs (price × qty + worst-case fee per share) ≤ min(free cash, free budget);
- YES held + Σ BUY YES ≤ position_limit, NO held + Σ BUY NO ≤ position_limit.

"Sellable" and "free cash" count what the AMM's own live orders hold (capacity_for): the
ladder is the complete desired set, and the diff replaces live orders atomically, never
growing a kept order (diff.py), so what the live orders free is available to the new ones.
This needs the platform's atomic replace to cancel every old order before placing the new
ones, as the reference platform does (exchange.services.orders.orders_replace). Cash frozen
by a live BUY is counted as price × remaining only (its frozen fee may be less than our
per-share worst case), so free cash is never overestimated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

from amm.enums import BookType, Direction, Side
from amm.strategy.avellaneda import optimal_spread
from amm.strategy.config import StrategyConfig
from amm.strategy.types import PAIR_VALUE_CENTS, DesiredQuote, Inventory, LiveOrder, fee_per_share


@dataclass(frozen=True, slots=True)
class SpreadBreakdown:
    as_term: float
    base: int
    fee_protection: int
    multiplier: float
    raw: float
    cents: int


def fee_protection_cents(fair: float, maker_fee_bps: int) -> int:
    """2 × ceil(max(s, 100 − s) × bps / 10000): both round-trip legs' maker fee, worst side."""
    worst = math.ceil(max(fair, PAIR_VALUE_CENTS - fair))
    return 2 * fee_per_share(worst, maker_fee_bps)


def compose_spread(
    *, gamma: float, sigma: float, tau: float, fair: float, maker_fee_bps: int, multiplier: float, config: StrategyConfig
) -> SpreadBreakdown:
    """The quoted spread in cents (module docstring)."""
    as_term = optimal_spread(gamma, sigma, tau, config.arrival_decay_k)
    fee = fee_protection_cents(fair, maker_fee_bps)
    raw = (max(float(config.base_spread_cents), as_term) + fee) * multiplier
    cents = math.ceil(raw - 1e-9)
    cents = 1 if cents < 1 else config.max_spread_cents if cents > config.max_spread_cents else cents
    return SpreadBreakdown(as_term, config.base_spread_cents, fee, multiplier, raw, cents)


@dataclass(frozen=True, slots=True)
class Capacity:
    """What the ladder may commit, as if every live order of the AMM were cancelled first."""

    yes_sellable: int  # yes_available + Σ remaining of live SELL YES
    no_sellable: int  # no_available + Σ remaining of live SELL NO
    cash_free: int  # cash_cents + Σ price × remaining of live BUYs (fees left out: a lower bound)
    budget_free: int  # budget_limit − cost basis of held shares (≥ 0)
    yes_buy_room: int  # position_limit − yes_volume (≥ 0)
    no_buy_room: int  # position_limit − no_volume (≥ 0)

    @property
    def buy_cash(self) -> int:
        return min(self.cash_free, self.budget_free)


def capacity_for(inventory: Inventory, live_orders: Iterable[LiveOrder], config: StrategyConfig, fee_bps: int) -> Capacity:
    yes_sell = no_sell = frozen = 0
    for order in live_orders:
        if order.direction is Direction.SELL:
            if order.side is Side.YES:
                yes_sell += order.remaining
            else:
                no_sell += order.remaining
        else:
            frozen += order.price_cents * order.remaining  # lower bound of what its cancel frees
    return Capacity(
        yes_sellable=max(0, inventory.yes_available + yes_sell),
        no_sellable=max(0, inventory.no_available + no_sell),
        cash_free=max(0, inventory.cash_cents + frozen),
        budget_free=max(0, config.budget_limit_cents - inventory.cost_sum_cents),
        yes_buy_room=max(0, config.position_limit - inventory.yes_volume),
        no_buy_room=max(0, config.position_limit - inventory.no_volume),
    )


def level_size(config: StrategyConfig, factor: float) -> int:
    """Shares per level: order_size × (phase, LVR) factors, at least 1."""
    return max(1, int(config.order_size * factor))


def build_ladder(
    *,
    reservation: float,
    spread_cents: int,
    lo: int,
    hi: int,
    levels: int,
    spacing: int,
    size: int,
    capacity: Capacity,
    fee_bps: int,
    quote_bids: bool = True,
    quote_asks: bool = True,
    discount_cents: int = 0,
) -> tuple[DesiredQuote, ...]:
    """The desired orders, inner levels first (module docstring). `fee_bps` is the worst-case
    (max of maker, taker) rate used for the cash a BUY freezes."""
    if (not quote_bids and not quote_asks) or levels <= 0 or size <= 0 or hi < lo:
        return ()
    spread = max(1, spread_cents)
    bid0 = math.floor(reservation - spread / 2 + 0.5)
    ask0 = bid0 + spread
    if quote_bids and quote_asks:
        bid0 = min(max(bid0, lo), hi - 1)
        ask0 = max(min(ask0, hi), bid0 + 1)
    elif quote_asks:
        ask0 = min(max(ask0 - discount_cents, lo), hi)
    else:
        bid0 = min(max(bid0 + discount_cents, lo), hi)

    yes_left, no_left = capacity.yes_sellable, capacity.no_sellable
    cash_left = capacity.buy_cash
    yes_room, no_room = capacity.yes_buy_room, capacity.no_buy_room
    out: list[DesiredQuote] = []
    for i in range(levels):
        step = i * spacing
        if quote_bids:
            p = bid0 - step
            if lo <= p <= hi:
                own = PAIR_VALUE_CENTS - p
                if no_left > 0 and lo <= own <= hi:
                    qty = size if size < no_left else no_left
                    no_left -= qty
                    out.append(DesiredQuote(Side.NO, Direction.SELL, own, qty, BookType.SYNTHETIC_BUY, p, i))
                else:
                    per_share = p + fee_per_share(p, fee_bps)
                    qty = min(size, cash_left // per_share, yes_room)
                    if qty > 0:
                        cash_left -= qty * per_share
                        yes_room -= qty
                        out.append(DesiredQuote(Side.YES, Direction.BUY, p, qty, BookType.NATIVE_BUY, p, i))
        if quote_asks:
            p = ask0 + step
            if lo <= p <= hi:
                if yes_left > 0:
                    qty = size if size < yes_left else yes_left
                    yes_left -= qty
                    out.append(DesiredQuote(Side.YES, Direction.SELL, p, qty, BookType.NATIVE_SELL, p, i))
                else:
                    own = PAIR_VALUE_CENTS - p
                    if lo <= own <= hi:
                        per_share = own + fee_per_share(own, fee_bps)
                        qty = min(size, cash_left // per_share, no_room)
                        if qty > 0:
                            cash_left -= qty * per_share
                            no_room -= qty
                            out.append(DesiredQuote(Side.NO, Direction.BUY, own, qty, BookType.SYNTHETIC_SELL, p, i))
    return tuple(out)
