"""Inventory as net directional exposure in cents (SPEC §6 "measure inventory as net exposure
in cents"; issue 13).

The seed's skew (YES − NO)/(YES + NO) shrinks when pairs are minted although the net
position stays: 1,000 YES + 0 NO is skew 1, the same position after minting 4,000 pairs is
skew 0.2. A pair is worth 100 cents whatever happens, so only the net shares carry risk:

    net        n = yes_volume − no_volume                          shares (+ long YES)
    exposure   E = n·fair         if n ≥ 0  (what a NO outcome takes)  cents
               E = n·(100 − fair) if n < 0  (what a YES outcome takes)
    limit      L = budget_limit_cents × exposure_limit_pct / 100      cents
    skew       q = clamp(E / L − exposure_target_pct / 100, −1, 1)

q is what the reservation price and the defense act on (with the seed's skew still guarding
invariant A1, defense.py); minting and burning pairs leave it unchanged. `exposure_target_pct`
shifts the zero: a target of +25 % makes a flat book q = −0.25, so the AMM leans to buying YES.

Size skew (after the order amount shape factor η of Hummingbot's avellaneda_market_making,
there size × e^(−η·q); here a power that reaches zero at the limit): the side that adds
exposure (bids when q > 0, asks when q < 0) quotes size × (1 − |q|)^`size_skew_exponent`; the
side that reduces it keeps its size, and near the end keeps up to the unshrunk size while it
sheds the net position (`side_sizes`). At |q| = 1 nothing that adds exposure is quoted.
"""
from __future__ import annotations

from amm.strategy.config import StrategyConfig
from amm.strategy.types import PAIR_VALUE_CENTS, Inventory


def net_shares(inventory: Inventory) -> int:
    """YES − NO: the directional position in shares (+ long YES, − long NO)."""
    return inventory.yes_volume - inventory.no_volume


def exposure_cents(net: int, fair: float) -> float:
    """What the net position loses if the event goes against it, signed (+ long YES)."""
    return net * fair if net >= 0 else net * (PAIR_VALUE_CENTS - fair)


def exposure_limit_cents(config: StrategyConfig) -> float:
    """L: the exposure that counts as skew ±1 (at least one cent)."""
    limit = config.budget_limit_cents * config.exposure_limit_pct / 100.0
    return limit if limit >= 1.0 else 1.0


def exposure_skew(exposure: float, config: StrategyConfig) -> float:
    """q = clamp(E / L − target, −1, 1) (module docstring)."""
    q = exposure / exposure_limit_cents(config) - config.exposure_target_pct / 100.0
    return -1.0 if q < -1.0 else 1.0 if q > 1.0 else q


def exposure_step(size: float, fair: float, config: StrategyConfig) -> float:
    """How far one level's fill moves q, at most: size × max(fair, 100 − fair) / L. It turns A-S's
    per-share inventory term of the spread into this project's normalised unit (ladder.py)."""
    worst = fair if fair > PAIR_VALUE_CENTS - fair else PAIR_VALUE_CENTS - fair
    return size * worst / exposure_limit_cents(config)


def side_sizes(*, size: int, full_size: int, net: int, q: float, levels: int, exponent: float) -> tuple[int, int]:
    """(bid size, ask size) per level. `size` is the level size after the expiry shrink (× √(T − t),
    engine.py), `full_size` before it. The side that adds exposure quotes size × (1 − |q|)^η
    rounded, at least 1 share while the factor is above 0 (so a small size is not truncated
    away), 0 at the limit (not quoted); the side that sells the net position down keeps up to `full_size`, but no
    more per level than |net| / levels (rounded up), so a quote that sheds risk near the end is
    not shrunk away and cannot flip the position either (when q, which counts the target, points
    the same way as the net position)."""
    bid_factor, ask_factor = size_factors(q, exponent)
    bid, ask = _scaled(size, bid_factor), _scaled(size, ask_factor)
    if net != 0 and levels > 0:
        shed = min(full_size, -(-abs(net) // levels))
        if net > 0 and q >= 0 and ask < shed:
            ask = shed
        elif net < 0 and q <= 0 and bid < shed:
            bid = shed
    return bid, ask


def _scaled(size: int, factor: float) -> int:
    if factor <= 0.0:
        return 0
    scaled = int(size * factor + 0.5)
    return scaled if scaled > 1 else 1


def size_factors(q: float, exponent: float) -> tuple[float, float]:
    """(bid factor, ask factor): the side that adds exposure × (1 − |q|)^exponent, the other × 1."""
    shrink = (1.0 - min(1.0, abs(q))) ** exponent if exponent > 0 else 1.0
    if q > 0:
        return shrink, 1.0
    if q < 0:
        return 1.0, shrink
    return 1.0, 1.0
