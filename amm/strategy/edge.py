"""Edge protection: where the best bid and ask may sit (SPEC §6; issue 13).

Whatever the reservation price, skew, spread and defense discount say, the ladder's best
prices (YES-view cents) are bounded by, in this order:

1. Fair edge. bid ≤ ⌊fair − m⌋ and ask ≥ ⌈fair + m⌉ with m = `min_half_spread_cents` + the
   maker fee of one share at the worse own-side price: the AMM never buys above, or sells
   below, fair less its minimum edge. Unwind mode (the ONE_SIDE defense and the reduce-only
   window, both one-sided and inventory-reducing) gives up the edge on the side it unwinds
   and may go through fair by L: bid ≤ ⌊fair + L⌋, ask ≥ ⌈fair − L⌉, with L the defense's
   distress discount (the seed's 0–5 c ramp) capped at `unwind_max_loss_cents`: the loss per
   share it accepts to shed risk, and no more.
2. Band ends. An ask at the band's bottom (a bid at its top) is always on the wrong side of
   a fair price above it (below it), so asks stay ≥ lo + 1 while fair > lo and bids ≤ hi − 1
   while fair < hi (no more YES sold at 1 when fair is 5, in any mode).
3. Post-only. The platform has no post-only flag, so the strategy keeps it: a bid stays below
   the best ask of the *external* book (the AMM's own orders taken out: the replace cancels
   them first), an ask above its best bid. A quote never takes, so it only ever pays the
   maker fee that the spread's fee protection allows for.

With m ≥ 0.5 the two fair bounds never meet (⌊f − m⌋ < ⌈f + m⌉), so a two-sided ladder stays
uncrossed; unwind mode is one-sided. A bound outside the band removes that side.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from amm.strategy.types import PAIR_VALUE_CENTS, fee_per_share

_EPS = 1e-9


class QuoteBounds(NamedTuple):
    """The highest allowed bid and the lowest allowed ask (YES-view cents); a plain record."""

    bid_max: int
    ask_min: int
    edge_cents: float  # m: the minimum distance from fair outside unwind mode
    bid_by: str  # what set bid_max: FAIR, UNWIND, BAND or BOOK
    ask_by: str

    def to_dict(self) -> dict[str, object]:
        return {"bid_max": self.bid_max, "ask_min": self.ask_min, "edge_cents": round(self.edge_cents, 4),
                "bid_by": self.bid_by, "ask_by": self.ask_by}


def edge_cents(fair: float, min_half_spread: float, maker_fee_bps: int) -> float:
    """m: the minimum half-spread plus one share's maker fee at the worse own-side price."""
    worst = math.ceil(max(fair, PAIR_VALUE_CENTS - fair) - _EPS)
    return min_half_spread + fee_per_share(worst, maker_fee_bps)


def quote_bounds(
    *,
    fair: float,
    edge: float,
    lo: int,
    hi: int,
    unwind_loss: float = 0.0,
    unwind_bids: bool = False,
    unwind_asks: bool = False,
    external_bid: int | None = None,
    external_ask: int | None = None,
) -> QuoteBounds:
    """The bounds of the module docstring for the raw `fair` price."""
    if unwind_bids:
        bid_max, bid_by = math.floor(fair + unwind_loss + _EPS), "UNWIND"
    else:
        bid_max, bid_by = math.floor(fair - edge + _EPS), "FAIR"
    if unwind_asks:
        ask_min, ask_by = math.ceil(fair - unwind_loss - _EPS), "UNWIND"
    else:
        ask_min, ask_by = math.ceil(fair + edge - _EPS), "FAIR"
    if fair < hi and bid_max > hi - 1:
        bid_max, bid_by = hi - 1, "BAND"
    if fair > lo and ask_min < lo + 1:
        ask_min, ask_by = lo + 1, "BAND"
    if external_ask is not None and bid_max > external_ask - 1:
        bid_max, bid_by = external_ask - 1, "BOOK"
    if external_bid is not None and ask_min < external_bid + 1:
        ask_min, ask_by = external_bid + 1, "BOOK"
    return QuoteBounds(bid_max, ask_min, edge, bid_by, ask_by)
