"""Quote ladder: spread, prices, sizes and backing of every desired order (SPEC §6).

Spread (YES-view ask − bid, cents):

    core  = min(max(base_spread_cents, A-S term) + fee protection, core cap)
    raw   = core × phase × defense × LVR multipliers
    cents = ceil(raw) bounded to [1, max_spread_cents]

The core cap is max(max_spread_cents / 2, base + fee): the A-S term alone never reaches the
total cap, so every multiplier still widens a market whose risk term is large (issue 13: at
the cap WIDEN and the LVR guard changed nothing). The A-S term is γ·σ²·τ + (2/γ)·ln(1 + γ/k)
(avellaneda.optimal_spread) or, as the engine calls it since issue 13, γ·V·Δq +
(2/γ)·ln(1 + γ/k): V the binary's price variance over the holding horizon (binary.py), Δq
how far one level's fill moves the normalised exposure (exposure.exposure_step; A-S's
γσ²(T − t) is the reservation move of one share, our q is a fraction of the exposure limit)
and k the learned arrival decay (intensity.py). Fee protection is
2 × ceil(max(s, 100 − s) × maker_fee_bps / 10000): the maker fee of both legs of a round
trip at the worse of the two own-side prices (quotes are post-only, edge.py: the AMM is
always the maker).

Prices: best bid = round(r − spread/2), best ask = best bid + spread, clamped into the band
[min_price, max_price] keeping bid < ask; level i sits i × `level_spacing_cents` further out.
In ONE_SIDE the quoted side moves toward the other by the distress discount. Then the edge
bounds (edge.py, optional `bid_max` / `ask_min`): the best bid is at most `bid_max` and the
best ask at least `ask_min`; a side whose bound leaves the band is not quoted.

Sizes: `size` per level, or `bid_size` / `ask_size` per side (the exposure skew, exposure.py);
a side of size 0 is not quoted. `bid_total` / `ask_total` cap a side's total and `sell_only`
quotes only inventory-backed orders (the reduce-only window: shed what is held, buy nothing).

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
from amm.strategy.avellaneda import optimal_spread, spread_term
from amm.strategy.config import StrategyConfig
from amm.strategy.types import PAIR_VALUE_CENTS, DesiredQuote, Inventory, LiveOrder, fee_per_share


CORE_CAP_FRACTION = 0.5  # the core spread is at most this share of max_spread_cents (or base + fee)


@dataclass(frozen=True, slots=True)
class SpreadBreakdown:
    as_term: float
    base: int
    fee_protection: int
    multiplier: float
    raw: float
    cents: int
    core: float = 0.0  # min(max(base, as_term) + fee, core cap): what the multipliers scale
    core_capped: bool = False
    k: float = 0.0  # the arrival decay the A-S term used


def fee_protection_cents(fair: float, maker_fee_bps: int) -> int:
    """2 × ceil(max(s, 100 − s) × bps / 10000): both round-trip legs' maker fee, worst side."""
    worst = math.ceil(max(fair, PAIR_VALUE_CENTS - fair))
    return 2 * fee_per_share(worst, maker_fee_bps)


def compose_spread(
    *,
    gamma: float,
    sigma: float,
    tau: float,
    fair: float,
    maker_fee_bps: int,
    multiplier: float,
    config: StrategyConfig,
    variance: float | None = None,
    exposure_step: float = 1.0,
    k: float | None = None,
) -> SpreadBreakdown:
    """The quoted spread in cents (module docstring). With `variance` the A-S term is
    γ·variance·exposure_step + (2/γ)·ln(1 + γ/k) (the engine's form), else γ·σ²·τ + (2/γ)·ln(1 + γ/k);
    k defaults to `arrival_decay_k`."""
    k = config.arrival_decay_k if k is None else k
    if variance is None:
        as_term = optimal_spread(gamma, sigma, tau, k)
    else:
        as_term = gamma * variance * exposure_step + spread_term(gamma, k)
    fee = fee_protection_cents(fair, maker_fee_bps)
    base = config.base_spread_cents
    core = max(float(base), as_term) + fee
    cap = max(config.max_spread_cents * CORE_CAP_FRACTION, float(base + fee))
    capped = core > cap
    if capped:
        core = cap
    raw = core * multiplier
    cents = math.ceil(raw - 1e-9)
    cents = 1 if cents < 1 else config.max_spread_cents if cents > config.max_spread_cents else cents
    return SpreadBreakdown(as_term, base, fee, multiplier, raw, cents, core, capped, k)


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
    bid_max: int | None = None,
    ask_min: int | None = None,
    bid_size: int | None = None,
    ask_size: int | None = None,
    bid_total: int | None = None,
    ask_total: int | None = None,
    sell_only: bool = False,
) -> tuple[DesiredQuote, ...]:
    """The desired orders, inner levels first (module docstring). `fee_bps` is the worst-case
    (max of maker, taker) rate used for the cash a BUY freezes."""
    bid_size = size if bid_size is None else bid_size
    ask_size = size if ask_size is None else ask_size
    quote_bids = quote_bids and bid_size > 0 and (bid_total is None or bid_total > 0)
    quote_asks = quote_asks and ask_size > 0 and (ask_total is None or ask_total > 0)
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
    if bid_max is not None and bid0 > bid_max:
        bid0 = bid_max  # below lo: the level loop quotes no bid
    if ask_min is not None and ask0 < ask_min:
        ask0 = ask_min

    yes_left, no_left = capacity.yes_sellable, capacity.no_sellable
    bid_left = bid_total if bid_total is not None else bid_size * levels
    ask_left = ask_total if ask_total is not None else ask_size * levels
    cash_left = capacity.buy_cash
    yes_room, no_room = capacity.yes_buy_room, capacity.no_buy_room
    out: list[DesiredQuote] = []
    for i in range(levels):
        step = i * spacing
        if quote_bids and bid_left > 0:
            p = bid0 - step
            want = bid_size if bid_size < bid_left else bid_left
            if lo <= p <= hi:
                own = PAIR_VALUE_CENTS - p
                if no_left > 0 and lo <= own <= hi:
                    qty = want if want < no_left else no_left
                    no_left -= qty
                    bid_left -= qty
                    out.append(DesiredQuote(Side.NO, Direction.SELL, own, qty, BookType.SYNTHETIC_BUY, p, i))
                elif not sell_only:
                    per_share = p + fee_per_share(p, fee_bps)
                    qty = min(want, cash_left // per_share, yes_room)
                    if qty > 0:
                        cash_left -= qty * per_share
                        yes_room -= qty
                        bid_left -= qty
                        out.append(DesiredQuote(Side.YES, Direction.BUY, p, qty, BookType.NATIVE_BUY, p, i))
        if quote_asks and ask_left > 0:
            p = ask0 + step
            want = ask_size if ask_size < ask_left else ask_left
            if lo <= p <= hi:
                if yes_left > 0:
                    qty = want if want < yes_left else yes_left
                    yes_left -= qty
                    ask_left -= qty
                    out.append(DesiredQuote(Side.YES, Direction.SELL, p, qty, BookType.NATIVE_SELL, p, i))
                elif not sell_only:
                    own = PAIR_VALUE_CENTS - p
                    if lo <= own <= hi:
                        per_share = own + fee_per_share(own, fee_bps)
                        qty = min(want, cash_left // per_share, no_room)
                        if qty > 0:
                            cash_left -= qty * per_share
                            no_room -= qty
                            ask_left -= qty
                            out.append(DesiredQuote(Side.NO, Direction.BUY, own, qty, BookType.SYNTHETIC_SELL, p, i))
    return tuple(out)
