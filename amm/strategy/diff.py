"""Desired quotes vs live orders → the fewest replacements (SPEC §6 "a quote cycle that would
not change live orders (within a tolerance) sends nothing"; SPEC §3.6 atomic replace).

A live order is *kept* for a desired quote when all hold:
- same book type (so same side and direction);
- |own-side price difference| ≤ `quote_tolerance_cents`;
- desired × (1 − size_tolerance_pct/100) ≤ remaining ≤ desired: a kept order may be a little
  smaller than wanted (a partial fill) but never larger, and a kept BUY never freezes more cash
  than the desired one would. So keeping never commits more shares, cash or position than the
  ladder planned (ladder.py limits hold after the replace);
- a kept bid stays below every desired ask and a kept ask above every desired bid (with a
  price tolerance a kept order could otherwise touch the new opposite quote).

Each live order serves at most one desired quote (closest price, then closest size, first).
The rest is paired up: unmatched live orders are cancelled, unmatched desired quotes placed,
one replace entry (old, new) per pair, so the number of entries is max(#cancel, #place) —
0 when nothing changes.
"""
from __future__ import annotations

from typing import Sequence

from amm.enums import Direction
from amm.strategy.types import DesiredQuote, LiveOrder, Replacement


def diff_orders(
    live: Sequence[LiveOrder],
    desired: Sequence[DesiredQuote],
    *,
    price_tolerance_cents: int = 0,
    size_tolerance_pct: int = 0,
    fee_bps: int = 0,
) -> tuple[Replacement, ...]:
    """Replacement pairs turning `live` into `desired` (module docstring)."""
    if not live:
        return tuple(Replacement(None, want) for want in desired)
    tol = price_tolerance_cents
    # With tol = 0 a kept order sits exactly on a desired price, which the ladder keeps
    # uncrossed; the crossing check is only needed with a tolerance.
    min_ask: int | None = None
    max_bid: int | None = None
    if tol:
        for want in desired:
            p = want.yes_view_price
            if want.is_bid:
                if max_bid is None or p > max_bid:
                    max_bid = p
            elif min_ask is None or p < min_ask:
                min_ask = p
    keep_fraction = 1.0 - size_tolerance_pct / 100.0

    pool: dict[object, list[LiveOrder]] = {}
    for order in live:
        key = (order.book_type, order.price_cents) if tol == 0 else order.book_type
        bucket = pool.get(key)
        if bucket is None:
            pool[key] = [order]
        else:
            bucket.append(order)

    used: set[str] = set()
    places: list[DesiredQuote] = []
    for want in desired:
        candidates = pool.get((want.book_type, want.price_cents) if tol == 0 else want.book_type)
        best: LiveOrder | None = None
        if candidates:
            qty = want.quantity
            low = qty * keep_fraction
            cash = want.cash_needed(fee_bps)
            best_score = (tol + 1, 0)
            for order in candidates:
                gap = order.price_cents - want.price_cents
                gap = -gap if gap < 0 else gap
                if gap > tol or order.order_id in used or not (low <= order.remaining <= qty):
                    continue
                score = (gap, qty - order.remaining)
                if score >= best_score:
                    continue
                if order.direction is Direction.BUY and order.cash_frozen(fee_bps) > cash:
                    continue
                yv = order.yes_view_price
                if order.is_bid:
                    if min_ask is not None and yv >= min_ask:
                        continue
                elif max_bid is not None and yv <= max_bid:
                    continue
                best, best_score = order, score
                if score == (0, 0):
                    break
        if best is None:
            places.append(want)
        else:
            used.add(best.order_id)

    if not places and len(used) == len(live):
        return ()
    cancels = sorted(order.order_id for order in live if order.order_id not in used)
    n = max(len(cancels), len(places))
    return tuple(
        Replacement(cancels[i] if i < len(cancels) else None, places[i] if i < len(places) else None) for i in range(n)
    )
